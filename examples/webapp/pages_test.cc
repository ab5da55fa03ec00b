#include "examples/webapp/pages.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sesh {
namespace webapp {
namespace {

TEST(HtmlEscapeTest, SpecialCharacters_AreEscaped) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("plain"), "plain");
}

TEST(HomePageTest, NameAndCsrf_AreEscaped) {
  PageContext ctx;
  ctx.csrf = "tok\"en";
  ctx.now = absl::FromUnixSeconds(1700000000);
  HomeInfo info{"u<1>", "<script>x</script>", 1700000000000 + 60000,
                1700000000000 + 3600000, 1800000};
  const std::string page = HomePage(ctx, info);
  EXPECT_EQ(page.find("<script>x"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("value=\"tok&quot;en\""), std::string::npos);
  EXPECT_NE(page.find("2023-11-14 22:14:20 UTC (in 1 min 0 s)"),
            std::string::npos);
}

TEST(DevicesPageTest, CurrentDevice_HasNoLogoutButton) {
  PageContext ctx;
  ctx.csrf = "t";
  const std::string page = DevicesPage(
      ctx, "Alice", {{"h1", "Firefox", 0, 0, true}, {"h2", "<Chrome>", 0, 0, false}},
      false, 1);
  EXPECT_NE(page.find("(this device)"), std::string::npos);
  EXPECT_EQ(page.find("name=\"handle\" value=\"h1\""), std::string::npos);
  EXPECT_NE(page.find("name=\"handle\" value=\"h2\""), std::string::npos);
  EXPECT_NE(page.find("&lt;Chrome&gt;"), std::string::npos);
  EXPECT_NE(page.find("Logged out 1 other device(s)."), std::string::npos);
}

}  // namespace
}  // namespace webapp
}  // namespace sesh
