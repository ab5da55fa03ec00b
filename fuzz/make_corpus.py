#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/ (run from anywhere).

Seeds are written from text protos with /usr/bin/protoc --encode, so a
reviewer can read what each one holds here. Rerun after a proto change that
the seeds should exercise; libFuzzer finds the rest from these.
"""
import base64
import hashlib
import hmac
import os
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

RAW = bytes.fromhex("abcdef0123456789" * 4)
ID = base64.urlsafe_b64encode(RAW).rstrip(b"=").decode()  # EncodeId(RAW)
ID_ZERO = "A" * 43  # 32 zero bytes
# SessionHandle(RAW), auth/session_handle.h.
HANDLE = base64.urlsafe_b64encode(
    hashlib.sha256(b"sesh-handle\0" + RAW).digest()[:16]).rstrip(b"=").decode()


def encode(message, text):
    proto = {"sesh.v1": "sesh/v1/sessions.proto",
             "sesh.internal": "sesh/internal/record.proto"}[message.rsplit(".", 1)[0]]
    return subprocess.run(
        ["/usr/bin/protoc", "-I" + os.path.join(ROOT, "proto"),
         "--encode=" + message, proto],
        input=text.encode(), capture_output=True, check=True).stdout


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def raw_escaped(raw):
    return "".join("\\x%02x" % b for b in raw)


# session_id: canonical ids, near misses, and 32 raw bytes (encode side).
write("session_id", "zero", ID_ZERO)
write("session_id", "valid", ID)
write("session_id", "non_canonical_last", "A" * 42 + "B")
write("session_id", "short", ID[:42])
write("session_id", "long", ID + "A")
write("session_id", "padded", ID[:42] + "=")
write("session_id", "std_base64", "+/" + ID[2:])
write("session_id", "raw32", RAW)
write("session_id", "handle", HANDLE)
write("session_id", "empty", b"")


# record_merge: records framed as [u16 little-endian length][bytes].
def record(text):
    return encode("sesh.internal.SessionRecord",
                  'id: "%s" namespace: "shop" %s' % (raw_escaped(RAW), text))


def frame(*records):
    return b"".join(struct.pack("<H", len(r)) + r for r in records)


LIVE = record('user_id: "u1" created_at_ms: 1000 last_access_ms: 2000 '
              'idle_timeout_ms: 60000 absolute_deadline_ms: 900000 version: 5 '
              'attributes { key: "cart" value { value: "3 items" hlc: 5 writer: 1 } } '
              'attributes { key: "csrf" value { value: "s3cr3t" hlc: 4 writer: 1 } }')
LATER = record('user_id: "u1" created_at_ms: 1000 last_access_ms: 1500 '
               'idle_timeout_ms: 60000 absolute_deadline_ms: 900000 version: 9 '
               'attributes { key: "cart" value { value: "4 items" hlc: 9 writer: 2 } } '
               'attributes { key: "csrf" value { removed: true hlc: 7 writer: 2 } }')
TIE = record('user_id: "u1" created_at_ms: 1000 last_access_ms: 2000 '
             'idle_timeout_ms: 60000 absolute_deadline_ms: 900000 version: 5 '
             'attributes { key: "cart" value { value: "other" hlc: 5 writer: 1 } }')
TOMBSTONE = record('user_id: "u1" created_at_ms: 1000 last_access_ms: 2500 '
                   'idle_timeout_ms: 60000 absolute_deadline_ms: 900000 '
                   'version: 12 destroyed: true')
OTHER_CREATION = record('user_id: "u2" created_at_ms: 999 idle_timeout_ms: 1 '
                        'absolute_deadline_ms: 1 version: 1')
LONE_TOUCH = encode("sesh.internal.SessionRecord", "last_access_ms: 3000")

write("record_merge", "one", frame(LIVE))
write("record_merge", "two_lww", frame(LIVE, LATER))
write("record_merge", "equal_stamps", frame(LIVE, TIE))
write("record_merge", "destroy_wins", frame(LATER, TOMBSTONE))
write("record_merge", "three", frame(LIVE, OTHER_CREATION, TOMBSTONE))
write("record_merge", "lone_touch", frame(LONE_TOUCH, LIVE))
write("record_merge", "empty", b"")


# request_validation: one byte of request type (the fuzzer's switch), then
# the request.
REQUESTS = [
    ("create", 0, "sesh.v1.CreateRequest",
     'namespace: "shop" user_id: "u1" idle_timeout_ms: 1800000 '
     'attributes { key: "cart" value: "3 items" }'),
    ("create_bad", 0, "sesh.v1.CreateRequest",
     'namespace: "sh\\000op" idle_timeout_ms: 0 absolute_ttl_ms: -1 '
     'attributes { key: "" value: "x" }'),
    ("get", 1, "sesh.v1.GetRequest", 'namespace: "shop" id: "%s"' % ID),
    ("update", 2, "sesh.v1.UpdateRequest",
     'namespace: "shop" id: "%s" set { key: "cart" value: "4 items" } '
     'remove: "csrf" expected_version: 7' % ID),
    ("update_conflict", 2, "sesh.v1.UpdateRequest",
     'namespace: "shop" id: "%s" set { key: "k" value: "v" } remove: "k"' % ID),
    ("touch", 3, "sesh.v1.TouchRequest", 'namespace: "shop" id: "%s"' % ID_ZERO),
    ("destroy_no_ns", 4, "sesh.v1.DestroyRequest", 'id: "%s"' % ID),
    ("destroy_by_handle", 4, "sesh.v1.DestroyRequest",
     'namespace: "shop" user_id: "u1" handle: "%s"' % HANDLE),
    ("rotate_bad_id", 5, "sesh.v1.RotateRequest",
     'namespace: "shop" id: "%s"' % (ID[:42] + "B")),
    ("list", 6, "sesh.v1.ListByUserRequest", 'namespace: "shop" user_id: "u1"'),
    ("list_page", 6, "sesh.v1.ListByUserRequest",
     'namespace: "shop" user_id: "u1" attributes: "user_agent" page_size: 1000 '
     'page_token: "1000.%s"' % HANDLE),
    ("destroy_by_user", 7, "sesh.v1.DestroyByUserRequest",
     'namespace: "shop" user_id: "u1" except_id: "%s"' % ID),
    ("destroy_by_user_both", 7, "sesh.v1.DestroyByUserRequest",
     'namespace: "shop" user_id: "u1" except_id: "%s" except_handle: "%s"'
     % (ID, HANDLE)),
    ("batch_get", 8, "sesh.v1.BatchGetRequest",
     'namespace: "shop" ids: "%s" ids: "%s" ids: "not an id"' % (ID, ID_ZERO)),
]
for name, kind, message, text in REQUESTS:
    write("request_validation", name, bytes([kind]) + encode(message, text))

# Cookie headers (cookie_parser_fuzzer.cc): the input is a Cookie header,
# and, split at its first '=', a name and value for BuildSetCookie.
COOKIE_HEADERS = [
    ("session", "__Host-sesh=" + ID),
    ("several", "__Host-sesh=%s; __Host-prefs=v1.AAAA.BBBB; theme=dark" % ID),
    ("duplicates", "a=1; a=2; a=3"),
    ("quoted", 'q="quoted"; e=""; x="unbalanced'),
    ("whitespace", " \t a = 1 ;\tb=2 ;c= 3\t"),
    ("garbage", ";;=;noeq; a b=1; \x00=\x01; c=\xff\xfe; ;="),
    ("empty", ""),
]
for name, text in COOKIE_HEADERS:
    write("cookie_parser", name, text.encode("latin-1"))


# Signed values (signed_value_fuzzer.cc), signed as SignedValues::Sign does
# with the fuzzer's first key.
def signed(purpose, value, expiry_ms=0, key=b"k" * 32):
    payload = struct.pack(">Q", expiry_ms) + value
    mac = hmac.new(key, b"sesh-signed-value\0" + purpose + b"\0" + payload,
                   hashlib.sha256).digest()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return "v1.%s.%s" % (b64(payload), b64(mac))


SIGNED = [
    ("dark", signed(b"prefs", b"dark")),
    ("light_expiring", signed(b"prefs", b"light", 1700000000000 + 3600000)),
    ("expired", signed(b"prefs", b"dark", 1600000000000)),
    ("other_purpose", signed(b"lang", b"en")),
    ("empty_value", signed(b"prefs", b"")),
    ("truncated", signed(b"prefs", b"dark")[:-5]),
    ("padded", signed(b"prefs", b"dark") + "="),
    ("plain", "dark"),
]
for name, text in SIGNED:
    write("signed_value", name, text)
