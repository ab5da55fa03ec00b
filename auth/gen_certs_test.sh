#!/usr/bin/env bash
# Checks tools/gen_certs.sh: the chain, the exact SANs, key type, validity,
# file modes, and that each token's SHA-256 is its line in `tokens`.
set -euo pipefail

script=tools/gen_certs.sh  # runfiles path; tests run from the runfiles root
dir="${TEST_TMPDIR:?}/certs"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A file left from before keeps its mode unless the script sets it.
mkdir -p "$dir"
touch "$dir/token.demo" "$dir/n1.key"
chmod 644 "$dir/token.demo" "$dir/n1.key"

bash "$script" "$dir" n1 n2 >"$TEST_TMPDIR/out" 2>&1 || {
  cat "$TEST_TMPDIR/out" >&2; fail "gen_certs.sh failed"; }
if [ -s "$TEST_TMPDIR/out" ]; then
  fail "gen_certs.sh was not quiet: $(cat "$TEST_TMPDIR/out")"
fi

# Second run overwrites (new CA, new tokens) and is still consistent.
old_ca=$(cat "$dir/ca.pem")
bash "$script" "$dir" n1 n2 || fail "second run failed"
[ "$old_ca" != "$(cat "$dir/ca.pem")" ] || fail "second run kept the CA"

openssl verify -CAfile "$dir/ca.pem" "$dir/n1.pem" "$dir/n2.pem" \
  "$dir/client.pem" >/dev/null || fail "openssl verify"

san() {
  openssl x509 -in "$dir/$1.pem" -noout -ext subjectAltName |
    sed -n '2s/^ *//p'
}
[ "$(san n1)" = "DNS:n1, DNS:localhost, IP Address:127.0.0.1" ] ||
  fail "n1 SAN: $(san n1)"
[ "$(san n2)" = "DNS:n2, DNS:localhost, IP Address:127.0.0.1" ] ||
  fail "n2 SAN: $(san n2)"
[ "$(san client)" = "DNS:sesh-client" ] || fail "client SAN: $(san client)"

for name in ca n1 n2 client; do
  openssl pkey -in "$dir/$name.key" -noout -text | grep -q 'NIST CURVE: P-256' ||
    fail "$name.key is not P-256"
  openssl x509 -in "$dir/$name.pem" -noout -checkend $((29 * 86400)) >/dev/null ||
    fail "$name.pem expires within 29 days"
  ! openssl x509 -in "$dir/$name.pem" -noout -checkend $((31 * 86400)) \
    >/dev/null || fail "$name.pem is valid beyond 31 days"
  # The key belongs to the certificate.
  [ "$(openssl pkey -in "$dir/$name.key" -pubout)" = \
    "$(openssl x509 -in "$dir/$name.pem" -noout -pubkey)" ] ||
    fail "$name.key does not match $name.pem"
done

for f in ca.key n1.key n2.key client.key token.demo token.bench token.test \
  token.other token.admin; do
  [ "$(stat -c %a "$dir/$f")" = 600 ] || fail "$f mode $(stat -c %a "$dir/$f")"
done

[ "$(wc -l <"$dir/tokens")" -eq 5 ] || fail "tokens has $(wc -l <"$dir/tokens") lines"
for name in demo bench test other admin; do
  # 32 bytes as base64url, no newline: $(cat token.x) and the file agree.
  [ "$(wc -c <"$dir/token.$name")" -eq 43 ] || fail "token.$name length"
  grep -qE '^[A-Za-z0-9_-]{43}$' "$dir/token.$name" || fail "token.$name form"
  hash=$(sha256sum "$dir/token.$name" | cut -d' ' -f1)
  if [ "$name" = admin ]; then want="* $hash admin"; else want="$name $hash"; fi
  grep -qxF "$want" "$dir/tokens" || fail "no line '$want' in tokens"
  if grep -qF "$(cat "$dir/token.$name")" "$dir/tokens"; then
    fail "tokens holds the clear token.$name"
  fi
done

if bash "$script" "$dir" ca 2>/dev/null; then fail "accepted node id 'ca'"; fi
echo PASS
