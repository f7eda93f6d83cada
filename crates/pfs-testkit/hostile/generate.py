#!/usr/bin/env python3
"""Writes the hostile-input corpus (crates/pfs-testkit/hostile/<class>.jsonl), one case per line.

Deterministic and offline: re-run after changing it, or after adding golden tests to
crates/pfs-wire/tests/*.rs (their request bodies are truncated at many points):

    python3 crates/pfs-testkit/hostile/generate.py

The runner is crates/pfs-testkit/tests/it/hostile.rs (`cargo test -p pfs-testkit hostile`).

A case is a JSON object:

* "class", "name": where it belongs and what it is (unique within its class).
* Either a body case: "type" (the `type` header, or null for none), "suid" (null for none,
  "VALID" for the runner's live session, anything else sent as is) and "body";
* or a raw case: "raw": true, "head" (the request line and headers, ending in the blank line)
  and "body", sent as they are. In "head", "@@CL@@" is the body's length, "@@CL+N@@" and
  "@@CL-N@@" that length plus or minus N.
* "body"/"head" are lists of parts: a string (UTF-8), {"hex": "..."} (raw bytes),
  {"repeat": [parts], "times": N}, or {"numbered": "text with {i}", "times": N} (the text N
  times, {i} counting from 0).
* In strings, "@@PROVIDER@@", "@@ODS@@", "@@PATIENT@@", "@@USER@@", "@@SUID@@" and "@@UUID@@" are
  the demo provider id, the session's practice, selected patient, online user, session id, and
  a fixed GUID.
* "expect": the acceptable outcomes: "E:<code>" (an Error with that errorCode), "OK" (a reply
  that is not an Error), "H:<status>" (an HTTP status other than 200), "closed" (the server
  closed the connection without a reply).
* "single" (optional, raw cases): no second reply may follow the first one (a request hidden
  in the body must not be answered).
* "forbid" (optional): strings that must not come back in an Error (the marker Zq7Marker is
  always checked).
"""
import json
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
MARKER = "Zq7Marker"
UUID = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"
XMLNS = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
APP = '<Application name="hostile" version="1.0" providerId="@@PROVIDER@@" deviceType="hostile"/>'
MAPP = f'<Application name="{MARKER}" version="1.0" providerId="@@PROVIDER@@" deviceType="hostile"/>'
COMMON = 'apiVersion="1" uuid="@@UUID@@" unitId="@@ODS@@" patientId="@@PATIENT@@" onlineUserId="@@USER@@"'
CV = f'<CheckVersion apiVersion="1" uuid="@@UUID@@">{MAPP}</CheckVersion>'

classes = {}


def add(cls, name, body, expect, type_="CheckVersion", suid=None, forbid=None):
    case = {"class": cls, "name": name, "type": type_, "suid": suid, "body": body, "expect": expect}
    if forbid:
        case["forbid"] = forbid
    classes.setdefault(cls, []).append(case)


def raw(cls, name, head, body, expect, forbid=None):
    case = {"class": cls, "name": name, "raw": True, "head": head, "body": body, "expect": expect}
    if name.startswith("smuggle") or name.startswith("type-junk-lf") or name.startswith("suid-junk-crlf"):
        # Nothing after the first reply: a second request hidden in this one is never answered.
        case["single"] = True
    if forbid:
        case["forbid"] = forbid
    classes.setdefault(cls, []).append(case)


def rep(s, n):
    return {"repeat": [s], "times": n}


MALFORMED = ["E:9001"]

# --- truncated: every golden request truncated at many points ------------------------------
lib = (ROOT / "crates/pfs-wire/src/lib.rs").read_text()
TYPES = re.findall(r"^\s+(\w+),$", lib.split("macro_rules! for_each_request")[1].split("};")[0], re.M)
fills = {
    "{UUID}": "@@UUID@@",
    "{PROVIDER}": "@@PROVIDER@@",
    "{APP}": APP,
    "{XMLNS}": XMLNS,
    "{COMMON}": COMMON,
    "{COMMON_REVERSED}": XMLNS + ' onlineUserId="@@USER@@" patientId="@@PATIENT@@" unitId="@@ODS@@" uuid="@@UUID@@" apiVersion="1"',
}
golden = set()
for path in sorted((ROOT / "crates/pfs-wire/tests").glob("*.rs")):
    text = path.read_text()
    for run in re.findall(r'((?:r#"[^"]*(?:"[^#][^"]*)*"#\s*,?\s*)+)', text):
        body = "".join(re.findall(r'r#"(.*?)"#', run, re.S))
        for k, v in fills.items():
            body = body.replace(k, v)
        if re.search(r"\{\w+\}", body):
            continue
        m = re.match(r'(?:<\?xml[^>]*\?>)?\s*<(\w+)', body)
        if m and m.group(1) in TYPES:
            golden.add((m.group(1), body.strip()))
for gi, (t, body) in enumerate(sorted(golden)):
    # The marker right after the root's name, so that most cuts keep it.
    m = re.search(r"<" + t, body)
    body = body[: m.end()] + f' x="{MARKER}"' + body[m.end():]
    n = len(body)
    points = sorted({1, 2, m.end(), m.end() + 5, n // 4, n // 3, n // 2, 2 * n // 3, n - 2, n - 1})
    for p in points:
        if 0 < p < n:
            add("truncated", f"{t}-{gi}-at-{p}", [body[:p]], MALFORMED, type_=t, suid="VALID")

# --- doctype: DOCTYPE, XXE, parameter entities ---------------------------------------------
dt = [
    ("internal-subset", f'<!DOCTYPE CheckVersion [<!ELEMENT CheckVersion ANY>]>{CV}'),
    ("xxe-file", f'<!DOCTYPE CheckVersion [<!ENTITY x SYSTEM "file:///etc/passwd">]><CheckVersion apiVersion="1" uuid="@@UUID@@">&x;{MAPP}</CheckVersion>'),
    ("xxe-file-in-attr", f'<!DOCTYPE CheckVersion [<!ENTITY x SYSTEM "file:///etc/passwd">]><CheckVersion apiVersion="&x;">{MAPP}</CheckVersion>'),
    ("xxe-http", f'<!DOCTYPE CheckVersion [<!ENTITY x SYSTEM "http://127.0.0.1:1/{MARKER}">]><CheckVersion>&x;</CheckVersion>'),
    ("xxe-public", f'<!DOCTYPE CheckVersion PUBLIC "-//{MARKER}//EN" "http://127.0.0.1:1/x.dtd"><CheckVersion/>'),
    ("external-dtd", f'<!DOCTYPE CheckVersion SYSTEM "file:///dev/zero">{CV}'),
    ("external-dtd-http", f'<!DOCTYPE CheckVersion SYSTEM "http://127.0.0.1:1/{MARKER}.dtd">{CV}'),
    ("parameter-entity", f'<!DOCTYPE CheckVersion [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>{CV}'),
    ("parameter-entity-oob", f'<!DOCTYPE CheckVersion [<!ENTITY % d SYSTEM "http://127.0.0.1:1/{MARKER}"> %d; %send;]>{CV}'),
    ("nested-parameter", '<!DOCTYPE CheckVersion [<!ENTITY % a "<!ENTITY &#37; b \'x\'>"> %a; %b;]><CheckVersion/>'),
    ("doctype-after-root", f'{CV}<!DOCTYPE CheckVersion>'),
    ("doctype-lowercase", f'<!doctype CheckVersion>{CV}'),
    ("doctype-no-name", f'<!DOCTYPE>{CV}'),
    ("doctype-unclosed", '<!DOCTYPE CheckVersion [<!ENTITY x "y">'),
    ("doctype-in-element", f'<CheckVersion><!DOCTYPE x>{MAPP}</CheckVersion>'),
    ("xinclude", f'<CheckVersion xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/>{MAPP}</CheckVersion>'),
    ("undeclared-entity-text", f'<CheckVersion>&{MARKER};{MAPP}</CheckVersion>'),
    ("undeclared-entity-attr", f'<CheckVersion apiVersion="&{MARKER};">{MAPP}</CheckVersion>'),
    ("nbsp-entity", f'<CheckVersion apiVersion="1&nbsp;">{MAPP}</CheckVersion>'),
    ("entity-no-semicolon", f'<CheckVersion apiVersion="&amp">{MAPP}</CheckVersion>'),
    ("bad-charref", f'<CheckVersion apiVersion="&#xZZ;">{MAPP}</CheckVersion>'),
    ("charref-too-big", f'<CheckVersion apiVersion="&#x110000;">{MAPP}</CheckVersion>'),
    ("charref-huge", f'<CheckVersion apiVersion="&#99999999999999999999999;">{MAPP}</CheckVersion>'),
    ("charref-surrogate", f'<CheckVersion apiVersion="&#xD800;">{MAPP}</CheckVersion>'),
    ("cdata-doctype", f'<CheckVersion><![CDATA[<!DOCTYPE x [<!ENTITY y SYSTEM "file:///etc/passwd">]>]]>{MAPP}</CheckVersion>'),
]
for name, body in dt:
    expect = MALFORMED
    if name in ("cdata-doctype", "xinclude"):
        # Well-formed: CDATA is only text, an xi:include only an unknown element.
        expect = ["OK", "E:9004"]
    add("doctype", name, [body], expect, forbid=["passwd", "root:"])
for t in ["Authenticate", "LinkAccount", "ListSlots"]:
    add("doctype", f"xxe-{t}", [f'<!DOCTYPE {t} [<!ENTITY x SYSTEM "file:///etc/passwd">]><{t} {COMMON} accountId="&x;"/>'], MALFORMED, type_=t, suid="VALID", forbid=["passwd"])

# --- entity bombs ---------------------------------------------------------------------------
lol = '<!ENTITY lol "lol">' + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
add("entity-bomb", "billion-laughs", [f"<!DOCTYPE CheckVersion [{lol}]><CheckVersion>&lol9;</CheckVersion>"], MALFORMED)
add("entity-bomb", "billion-laughs-attr", [f'<!DOCTYPE CheckVersion [{lol}]><CheckVersion apiVersion="&lol9;"/>'], MALFORMED)
add("entity-bomb", "quadratic-blowup", ['<!DOCTYPE CheckVersion [<!ENTITY a "', rep("a", 50000), '">]><CheckVersion>', rep("&a;", 50000), "</CheckVersion>"], MALFORMED)
add("entity-bomb", "undeclared-many", ["<CheckVersion>", rep("&lol;", 100000), "</CheckVersion>"], MALFORMED)
add("entity-bomb", "recursive", ['<!DOCTYPE CheckVersion [<!ENTITY a "&b;"><!ENTITY b "&a;">]><CheckVersion>&a;</CheckVersion>'], MALFORMED)
add("entity-bomb", "charrefs-over-value-limit", ['<CheckVersion apiVersion="', rep("&#65;", 2000), '"/>'], MALFORMED)
add("entity-bomb", "charrefs-over-text-limit", ["<CheckVersion>", rep("&#x41;", 150000), "</CheckVersion>"], MALFORMED)
add("entity-bomb", "amp-over-text-limit", ["<CheckVersion>", rep("&amp;", 200000), "</CheckVersion>"], MALFORMED)
add("entity-bomb", "lt-in-attr-over-limit", ['<CheckVersion apiVersion="', rep("&lt;", 200000), '"/>'], MALFORMED)
add("entity-bomb", "charrefs-within-limit", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, "<!--", rep("&#65;", 100000), "-->", "</CheckVersion>"], ["OK"])
add("entity-bomb", "external-bomb", [f'<!DOCTYPE CheckVersion [<!ENTITY a SYSTEM "/dev/zero">]><CheckVersion>&a;</CheckVersion>'], MALFORMED)
add("entity-bomb", "billion-laughs-ListSlots", [f'<!DOCTYPE ListSlots [{lol}]><ListSlots {COMMON} startDate="&lol9;" numberOfDays="1"/>'], MALFORMED, type_="ListSlots", suid="VALID")

# --- deep nesting ---------------------------------------------------------------------------
for depth in [8, 9, 10, 64, 1000, 100000, 140000]:
    el = MARKER if depth < 1000 else "a"  # within the body limit
    body = ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, rep(f"<{el}>", depth - 1), rep(f"</{el}>", depth - 1), "</CheckVersion>"]
    add("nesting", f"depth-{depth}", body, ["OK"] if depth <= 8 else MALFORMED)
for depth in [9, 1000, 140000]:
    add("nesting", f"unclosed-depth-{depth}", ["<CheckVersion>", rep("<a>", depth)], MALFORMED)
    add("nesting", f"self-closing-in-depth-{depth}", ["<CheckVersion>", rep("<a>", depth - 1), "<b/>", rep("</a>", depth - 1), "</CheckVersion>"], MALFORMED)
add("nesting", "mismatched-deep", ["<CheckVersion>", rep("<a>", 7), rep("</b>", 7), "</CheckVersion>"], MALFORMED)
add("nesting", "depth-9-ListSlots", [f"<ListSlots {COMMON} numberOfDays=\"1\">", rep("<a>", 8), rep("</a>", 8), "</ListSlots>"], MALFORMED, type_="ListSlots", suid="VALID")

# --- huge attribute values ------------------------------------------------------------------
for size in [1025, 4096, 8193, 100000, 1000000]:
    add("huge-value", f"apiVersion-{size}", [f'<CheckVersion apiVersion="{MARKER}', rep("9", size), f'" uuid="@@UUID@@">{MAPP}</CheckVersion>'], MALFORMED)
    add("huge-value", f"text-{size}", [f'<CheckVersion apiVersion="1">{MARKER}', rep("x", size), f"{MAPP}</CheckVersion>"], MALFORMED)
for size in [1025, 10000, 500000]:
    add("huge-value", f"Authenticate-passphrase-{size}", [f'<Authenticate {COMMON} accountId="1" passphrase="{MARKER}', rep("p", size), f'" providerId="@@PROVIDER@@">{APP}</Authenticate>'], MALFORMED, type_="Authenticate")
    add("huge-value", f"LinkAccount-lastName-{size}", [f'<LinkAccount apiVersion="1" organisationCode="@@ODS@@" lastName="{MARKER}', rep("L", size), f'" dateOfBirth="1980-02-14" accountId="1" passphrase="k">{APP}</LinkAccount>'], MALFORMED, type_="LinkAccount")
add("huge-value", "attribute-name-1025", [f'<CheckVersion {MARKER}', rep("n", 1025), f'="1">{MAPP}</CheckVersion>'], ["OK", "E:9001"])
add("huge-value", "attribute-name-500000", [f'<CheckVersion {MARKER}', rep("n", 500000), f'="1">{MAPP}</CheckVersion>'], ["OK", "E:9001"])
add("huge-value", "element-name-500000", [f'<CheckVersion>{MAPP}<{MARKER}', rep("n", 500000), "/></CheckVersion>"], ["OK", "E:9001"])
# BookAppointment allows 8 192 bytes so that long notes get 9011.
add("huge-value", "BookAppointment-notes-8192", [f'<BookAppointment {COMMON} sessionId="1" startDate="2030-01-01T09:00:00Z" endDate="2030-01-01T09:10:00Z" notes="{MARKER}', rep("n", 8192 - len(MARKER)), '"/>'], ["E:9011"], type_="BookAppointment", suid="VALID")
add("huge-value", "BookAppointment-notes-8193", [f'<BookAppointment {COMMON} sessionId="1" startDate="2030-01-01T09:00:00Z" endDate="2030-01-01T09:10:00Z" notes="{MARKER}', rep("n", 8193 - len(MARKER)), '"/>'], MALFORMED, type_="BookAppointment", suid="VALID")
# An order's notes are checked before anything else about the order.
add("huge-value", "RequestMedication-notes-8192", [f'<RequestMedication {COMMON} notes="{MARKER}', rep("n", 8192 - len(MARKER)), '"><Medication drugId="1" type="Repeat"/></RequestMedication>'], ["E:9011"], type_="RequestMedication", suid="VALID")
add("huge-value", "RequestMedication-notes-8193", [f'<RequestMedication {COMMON} notes="{MARKER}', rep("n", 8193 - len(MARKER)), '"><Medication drugId="1" type="Repeat"/></RequestMedication>'], MALFORMED, type_="RequestMedication", suid="VALID")
add("huge-value", "RequestMedication-100-items", [f'<RequestMedication {COMMON}>', {"numbered": '<Medication drugId="{i}" type="Repeat"/>', "times": 100}, '</RequestMedication>'], ["E:9018"], type_="RequestMedication", suid="VALID")
add("huge-value", "RequestMedication-101-items", [f'<RequestMedication {COMMON}>', {"numbered": '<Medication drugId="{i}" type="Repeat"/>', "times": 101}, '</RequestMedication>'], MALFORMED, type_="RequestMedication", suid="VALID")
add("huge-value", "RequestMedication-same-drug-twice", [f'<RequestMedication {COMMON}><Medication drugId="1" type="Repeat"/><Medication drugId="1" type="Repeat"/></RequestMedication>'], ["E:9004"], type_="RequestMedication", suid="VALID")
# ChangeDemographics allows 2 048 bytes per value so that long fields get 9024.
add("huge-value", "ChangeDemographics-postcode-2048", [f'<ChangeDemographics {COMMON}><Address street="High Street" postcode="{MARKER}', rep("P", 2048 - len(MARKER)), '"/></ChangeDemographics>'], ["E:9024"], type_="ChangeDemographics", suid="VALID")
add("huge-value", "ChangeDemographics-postcode-2049", [f'<ChangeDemographics {COMMON}><Address street="High Street" postcode="{MARKER}', rep("P", 2049 - len(MARKER)), '"/></ChangeDemographics>'], MALFORMED, type_="ChangeDemographics", suid="VALID")
add("huge-value", "ChangeDemographics-10-numbers", [f'<ChangeDemographics {COMMON}><TelephoneNumbers>', {"numbered": '<TelephoneNumber number="0770090000{i}" type="Mobile"/>', "times": 10}, '</TelephoneNumbers></ChangeDemographics>'], ["E:9022"], type_="ChangeDemographics", suid="VALID")
add("huge-value", "ChangeDemographics-13-numbers", [f'<ChangeDemographics {COMMON}><TelephoneNumbers>', {"numbered": '<TelephoneNumber number="0770090000{i}" type="Mobile"/>', "times": 13}, '</TelephoneNumbers></ChangeDemographics>'], ["E:9022"], type_="ChangeDemographics", suid="VALID")
add("huge-value", "ChangeDemographics-14-numbers", [f'<ChangeDemographics {COMMON}><TelephoneNumbers>', {"numbered": '<TelephoneNumber number="0770090000{i}" type="Mobile"/>', "times": 14}, '</TelephoneNumbers></ChangeDemographics>'], MALFORMED, type_="ChangeDemographics", suid="VALID")
add("huge-value", "ChangeDemographics-email-2048", [f'<ChangeDemographics {COMMON}><EmailAddress address="{MARKER}', rep("e", 2048 - len(MARKER)), '"/></ChangeDemographics>'], ["E:9024"], type_="ChangeDemographics", suid="VALID")
add("huge-value", "BookAppointment-notes-501-chars", [f'<BookAppointment {COMMON} sessionId="1" startDate="2030-01-01T09:00:00Z" endDate="2030-01-01T09:10:00Z" notes="{MARKER}', rep("é", 501 - len(MARKER)), '"/>'], ["E:9011"], type_="BookAppointment", suid="VALID")
add("huge-value", "accountId-65", [f'<LinkAccount apiVersion="1" organisationCode="@@ODS@@" lastName="X" dateOfBirth="1980-02-14" accountId="{MARKER}', rep("1", 65 - len(MARKER)), f'" passphrase="k">{APP}</LinkAccount>'], ["E:9004"], type_="LinkAccount")

# --- many attributes or elements ------------------------------------------------------------
def attrs(n, prefix="a"):
    if n > 1000:
        return {"numbered": f' {prefix}{{i}}="1"', "times": n}
    return "".join(f' {prefix}{i}="{i}"' for i in range(n))


add("many", "attributes-128", [f'<CheckVersion apiVersion="1" uuid="@@UUID@@"{attrs(122)}>{MAPP}</CheckVersion>'], ["OK"])
add("many", "attributes-129", [f'<CheckVersion apiVersion="1" uuid="@@UUID@@"{attrs(123)}>{MAPP}</CheckVersion>'], MALFORMED)
add("many", "attributes-100k", [f'<CheckVersion x="{MARKER}"', attrs(70000), f'>{MAPP}</CheckVersion>'], MALFORMED)
add("many", "attributes-100k-on-child", [f'<CheckVersion x="{MARKER}"><Application', attrs(70000), '/></CheckVersion>'], MALFORMED)
add("many", "duplicate-attribute-100k", [f'<CheckVersion x="{MARKER}"', rep(' a="1"', 100000), "/>"], MALFORMED)
add("many", "xmlns-100k", ["<CheckVersion", {"numbered": ' xmlns:p{i}="u"', "times": 60000}, "/>"], MALFORMED)
add("many", "elements-32", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, rep(f"<{MARKER}/>", 30), "</CheckVersion>"], ["OK"])
add("many", "elements-33", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, rep(f"<{MARKER}/>", 31), "</CheckVersion>"], MALFORMED)
add("many", "elements-100k", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, rep("<a/>", 100000), "</CheckVersion>"], MALFORMED)
add("many", "applications-100k", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', rep(MAPP, 10000), "</CheckVersion>"], MALFORMED)
add("many", "comments-100k", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, rep(f"<!--{MARKER}-->", 50000), "</CheckVersion>"], ["OK"])
add("many", "pis-100k", ['<CheckVersion apiVersion="1" uuid="@@UUID@@">', MAPP, rep(f"<?{MARKER} x?>", 50000), "</CheckVersion>"], ["OK", "E:9001"])
add("many", "whitespace-900k", ['<CheckVersion apiVersion="1" uuid="@@UUID@@"', rep(" ", 900000), f">{MAPP}</CheckVersion>"], ["OK"])
add("many", "roots-100k", [rep("<CheckVersion/>", 60000)], MALFORMED)
add("many", "body-1MiB-plus-1", [f'<CheckVersion apiVersion="1" uuid="@@UUID@@">{MAPP}<!--', rep("x", 1048576), "-->\n</CheckVersion>"], ["E:9005"])
add("many", "body-4MiB", [rep("<", 4 * 1048576)], ["E:9005", "closed"])
add("many", "ListSlots-attributes-129", [f'<ListSlots {COMMON} numberOfDays="1"{attrs(123)}/>'], MALFORMED, type_="ListSlots", suid="VALID")

# --- utf8: bad and overlong UTF-8, BOMs and declared encodings -------------------------------
bad_bytes = {
    "lone-continuation": "80",
    "latin1-e-acute": "e9",
    "overlong-slash-2": "c0af",
    "overlong-slash-3": "e080af",
    "overlong-slash-4": "f08080af",
    "overlong-nul": "c080",
    "surrogate-high": "eda080",
    "surrogate-low": "edbfbf",
    "beyond-10ffff": "f4908080",
    "five-byte": "f888808080",
    "six-byte": "fc8480808080",
    "ff": "ff",
    "fe": "fe",
    "truncated-2": "c3",
    "truncated-3": "e282",
    "truncated-4": "f09f98",
}
for name, hx in bad_bytes.items():
    add("utf8", f"{name}-in-attr-value", [f'<CheckVersion apiVersion="1" uuid="@@UUID@@"><Application name="{MARKER}', {"hex": hx}, '" providerId="@@PROVIDER@@"/></CheckVersion>'], MALFORMED)
    add("utf8", f"{name}-in-text", [f'<CheckVersion apiVersion="1">{MARKER}', {"hex": hx}, f"{APP}</CheckVersion>"], MALFORMED)
    add("utf8", f"{name}-in-element-name", [f"<CheckVersion>{APP}<{MARKER}", {"hex": hx}, "/></CheckVersion>"], MALFORMED)
    add("utf8", f"{name}-in-comment", [f"<CheckVersion>{APP}<!--{MARKER}", {"hex": hx}, "--></CheckVersion>"], MALFORMED)
    add("utf8", f"{name}-at-end", [CV, {"hex": hx}], MALFORMED)
add("utf8", "bom-utf8", [{"hex": "efbbbf"}, '<?xml version="1.0" encoding="utf-8"?>', CV], ["OK"])
add("utf8", "bom-utf8-twice", [{"hex": "efbbbfefbbbf"}, CV], MALFORMED)
add("utf8", "bom-after-declaration", ['<?xml version="1.0"?>', {"hex": "efbbbf"}, CV], MALFORMED)
cv_utf16 = ('<?xml version="1.0" encoding="utf-16"?><CheckVersion apiVersion="1"/>')
add("utf8", "utf16le-bom", [{"hex": "fffe" + cv_utf16.encode("utf-16-le").hex()}], MALFORMED)
add("utf8", "utf16be-bom", [{"hex": "feff" + cv_utf16.encode("utf-16-be").hex()}], MALFORMED)
add("utf8", "utf16le-no-bom", [{"hex": cv_utf16.encode("utf-16-le").hex()}], MALFORMED)
add("utf8", "utf32le-bom", [{"hex": "fffe0000" + cv_utf16.encode("utf-32-le").hex()}], MALFORMED)
add("utf8", "utf32be-bom", [{"hex": "0000feff" + cv_utf16.encode("utf-32-be").hex()}], MALFORMED)
add("utf8", "utf7-bom", [{"hex": "2b2f7638"}, CV], MALFORMED)
add("utf8", "ebcdic", [{"hex": cv_utf16.encode("cp500").hex()}], MALFORMED)
for enc in ["utf-16", "UTF-16", "iso-8859-1", "windows-1252", "us-ascii", "UTF-32", "ebcdic-cp-us", "x-" + MARKER]:
    add("utf8", f"declared-{enc}", [f'<?xml version="1.0" encoding="{enc}"?>', CV], ["OK"])
add("utf8", "declared-iso-8859-1-latin1-bytes", ['<?xml version="1.0" encoding="iso-8859-1"?><CheckVersion apiVersion="1"><Application name="', {"hex": "e9"}, '" providerId="@@PROVIDER@@"/></CheckVersion>'], MALFORMED)
add("utf8", "declared-version-2", ['<?xml version="2.0"?>', CV], MALFORMED)
add("utf8", "declared-version-1.1", ['<?xml version="1.1"?>', CV], ["OK", "E:9001"])
add("utf8", "declaration-after-space", [' <?xml version="1.0"?>', CV], MALFORMED)
add("utf8", "declaration-twice", ['<?xml version="1.0"?><?xml version="1.0"?>', CV], MALFORMED)
add("utf8", "valid-astral-in-name", ['<CheckVersion apiVersion="1" uuid="@@UUID@@"><Application name="\U0001F600 hostile" providerId="@@PROVIDER@@"/></CheckVersion>'], ["OK"])
add("utf8", "fffe-in-attr", ['<CheckVersion apiVersion="1"><Application name="', {"hex": "efbfbe"}, '" providerId="@@PROVIDER@@"/></CheckVersion>'], MALFORMED)
add("utf8", "ffff-in-text", ['<CheckVersion apiVersion="1">', {"hex": "efbfbf"}, f"{APP}</CheckVersion>"], MALFORMED)

# --- control: NUL and control characters in every place --------------------------------------
controls = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]
for c in controls:
    hx = f"{c:02x}"
    add("control", f"raw-{hx}-in-attr-value", [f'<CheckVersion apiVersion="1"><Application name="{MARKER}', {"hex": hx}, '" providerId="@@PROVIDER@@"/></CheckVersion>'], MALFORMED)
    add("control", f"raw-{hx}-in-text", [f'<CheckVersion apiVersion="1">{MARKER}', {"hex": hx}, f"{APP}</CheckVersion>"], MALFORMED)
    add("control", f"raw-{hx}-in-comment", [f"<CheckVersion>{APP}<!--{MARKER}", {"hex": hx}, "--></CheckVersion>"], MALFORMED)
    add("control", f"ref-{hx}-in-attr-value", [f'<CheckVersion apiVersion="1"><Application name="{MARKER}&#{c};" providerId="@@PROVIDER@@"/></CheckVersion>'], MALFORMED)
    add("control", f"hexref-{hx}-in-text", [f'<CheckVersion apiVersion="1">{MARKER}&#x{c:X};{APP}</CheckVersion>'], MALFORMED)
for place, pre, post in [
    ("element-name", "<Check", "Version/>"),
    ("attribute-name", '<CheckVersion api', 'Version="1"/>'),
    ("between-attributes", '<CheckVersion apiVersion="1"', ' uuid="@@UUID@@"/>'),
    ("before-root", "", CV),
    ("after-root", CV, ""),
    ("in-declaration", '<?xml version="1.0"', "?>" + CV),
    ("in-pi", CV[:-15] + "<?pi ", "?></CheckVersion>"),
    ("in-cdata", CV[:-15] + "<![CDATA[", "]]></CheckVersion>"),
    ("in-end-tag", CV[:-1], ">"),
    ("uuid-value", '<CheckVersion apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93', f'">{APP}</CheckVersion>'),
]:
    for hx in ["00", "01", "1b", "7f", "c280"]:
        expect = ["OK", "E:9004"] if hx in ("7f", "c280") and place not in ("element-name", "attribute-name", "between-attributes", "before-root", "after-root", "in-declaration", "in-end-tag") else MALFORMED
        if hx in ("7f", "c280") and place in ("element-name", "attribute-name"):
            expect = ["E:9001", "E:9002", "E:9003", "E:9004", "OK"]
        add("control", f"{place}-{hx}", [pre, {"hex": hx}, post], expect)

# --- root-type: wrong root, wrong or unknown type --------------------------------------------
for t in [t for t in TYPES if t != "CheckVersion"]:
    add("root-type", f"type-{t}-root-CheckVersion", [CV], ["E:9003"], type_=t, suid="VALID")
for t in ["checkversion", "CHECKVERSION", "CheckVersionReply", "Error", "CheckVersion2", MARKER, "Check Version", "Check\tVersion", "../CheckVersion", "CheckVersion;Logoff", "' OR 1=1 --", "%00CheckVersion", "CheckVersion%00", "ñ", "x" * 4000, ""]:
    add("root-type", f"unknown-type-{t[:40]!r}", [CV], ["E:9002"], type_=t)
add("root-type", "no-type-header", [CV], ["E:9002"], type_=None)
for root in [MARKER, "checkversion", "CheckVersionReply", "Error", "xsl:CheckVersion", "p:CheckVersion", MARKER + ":CheckVersion", "Logoff"]:
    add("root-type", f"root-{root}", [f'<{root} apiVersion="1" uuid="@@UUID@@" xmlns:p="u" xmlns:xsl="u" xmlns:{MARKER}="u">{MAPP}</{root}>'], ["E:9003", "OK"] if ":" in root else ["E:9003"])
add("root-type", "empty-body", [""], MALFORMED)
add("root-type", "whitespace-body", [" \r\n\t "], MALFORMED)
add("root-type", "only-declaration", ['<?xml version="1.0"?>'], MALFORMED)
add("root-type", "only-comment", [f"<!--{MARKER}-->"], MALFORMED)
add("root-type", "text-only", [MARKER], MALFORMED)
add("root-type", "json", ['{"type":"CheckVersion","x":"' + MARKER + '"}'], MALFORMED)
add("root-type", "html", [f"<html><body>{MARKER}</body></html>"], ["E:9003"])

# --- dates and numbers -----------------------------------------------------------------------
absurd_dates = [
    "0000-00-00", "0001-01-01", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "-0001-01-01", "+2024-06-03", "99999999999999999999-01-01", "2024-02-30", "2023-02-29", "2024-13-01",
    "2024-00-10", "2024-06-31", "2024-06-03T24:00:01", "2024-06-03T25:00:00", "2024-06-03T12:60:00",
    "2024-06-03T12:00:61", "2024-06-03T14:07:12.1234567890Z", "2024-06-03T14:07:12.Z", "2024-06-03T14:07:12+99:00",
    "2024-06-03T14:07:12+14:61", "2024-06-03T14:07:12ZZ", "2024-06-03 14:07:12", "2024-6-3", "24-06-03",
    "2024/06/03", "03/06/2024", "1e10", "NaN", "Infinity", "-1", "0", "", " ", "now", "today",
    "2024-06-03T", "T14:07:12", "2024-06-03T14", "２０２４-06-03", "2024-06-03T14:07:12.3Z" + MARKER,
    MARKER, "' OR 1=1 --", "%00", "../../etc/passwd",
]
date_attrs = [
    ("LinkAccount", "dateOfBirth", lambda v: f'<LinkAccount apiVersion="1" organisationCode="@@ODS@@" lastName="X" dateOfBirth="{v}" accountId="1" passphrase="k">{APP}</LinkAccount>', None),
    ("ListSlots", "startDate", lambda v: f'<ListSlots {COMMON} startDate="{v}" numberOfDays="7"/>', "VALID"),
    ("BookAppointment", "startDate", lambda v: f'<BookAppointment {COMMON} sessionId="1" startDate="{v}" endDate="2030-01-01T09:10:00Z"/>', "VALID"),
    ("BookAppointment", "endDate", lambda v: f'<BookAppointment {COMMON} sessionId="1" startDate="2030-01-01T09:00:00Z" endDate="{v}"/>', "VALID"),
    ("GetPrescriptionRequests", "startDate", lambda v: f'<GetPrescriptionRequests {COMMON} startDate="{v}"/>', "VALID"),
    ("TestResultsView", "startDate", lambda v: f'<TestResultsView {COMMON} startDate="{v}" endDate="2024-06-03T23:59:59.0Z"/>', "VALID"),
    ("ListRecordAccesses", "endDate", lambda v: f'<ListRecordAccesses {COMMON} endDate="{v}"/>', "VALID"),
]
for t, attr, make, suid in date_attrs:
    for i, v in enumerate(absurd_dates):
        e = v.replace("'", "&apos;")
        expect = ["E:9004"]
        if re.fullmatch(r"2024-06-03T14:07:12[+-]\d\d:\d\d", v):
            # The offset is decoration (wire-format.md, Times): any digits are read, and ignored.
            expect = ["E:9004", {"LinkAccount": "E:8", "ListSlots": "OK", "BookAppointment": "E:1102", "GetPrescriptionRequests": "OK", "TestResultsView": "OK", "ListRecordAccesses": "OK"}[t]]
        if t == "TestResultsView" and re.fullmatch(r"2024-06-03T14:07:12[+-]\d\d:\d\d", v):
            # A start later in the day than the end's date-time allows is still before it.
            expect = ["OK", "E:9033"]
        if t in ("GetPrescriptionRequests", "ListRecordAccesses") and not v.strip():
            # An optional attribute left empty is absent: the default window applies.
            expect = ["OK"]
        # Only fragments the server's own texts cannot contain (they show date formats).
        distinctive = re.search(r"[^0-9T:.+\-Z ]", v) and len(v) > 3
        add("dates-numbers", f"{t}-{attr}-{i}-{v[:30]}", [make(e)], expect, type_=t, suid=suid, forbid=[v] if distinctive else None)
numbers = ["-1", "0", "99999999999999999999999999", "1e5", "0x10", "1.5", "NaN", " 7", "７", "18446744073709551616", "-9223372036854775809", MARKER, ""]
for i, v in enumerate(numbers):
    add("dates-numbers", f"ListSlots-numberOfDays-{i}", [f'<ListSlots {COMMON} startDate="2030-01-01T00:00:00Z" numberOfDays="{v}"/>'], ["E:9004", "OK"] if v in ("0", " 7") else ["E:9004"], type_="ListSlots", suid="VALID", forbid=[v] if len(v) > 3 else None)
for v in ["Y", "N", "y", "n", "yes", "1", "", MARKER, "\u00ff"]:
    add("dates-numbers", f"ViewAppointments-futureAppointments-{v!r}", [f'<ViewAppointments {COMMON} futureAppointments="{v}"/>'], ["OK", "E:9004"] if v in ("Y", "N", "y", "n", "") else ["E:9004"], type_="ViewAppointments", suid="VALID")
for v in ["2", "1.0", "01", "-1", "99999999999999999999", MARKER]:
    add("dates-numbers", f"apiVersion-{v}", [f'<CheckVersion apiVersion="{v}" uuid="@@UUID@@">{APP}</CheckVersion>'], ["E:9006"], forbid=[MARKER])

# --- injection: SQL and path payloads in every id attribute (well-formed: business answers) --
payloads = [
    "' OR 1=1 --", "\" OR \"1\"=\"1", "1; DROP TABLE patients; --", "1' UNION SELECT passphrase FROM accounts --",
    "../../etc/passwd", "..\\..\\windows\\win.ini", "%00", "1%00", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "file:///etc/passwd",
    "${jndi:ldap://127.0.0.1/a}", "{{7*7}}", "*", "%", "_", "1 OR 1", "\u202e1", "9" * 200,
]
BUSINESS = ["E:3", "E:5", "E:6", "E:7", "E:8", "E:9", "E:40", "E:509", "E:512", "E:513", "E:553", "E:554", "E:555", "E:1102", "E:1103", "E:9004", "E:9007", "E:9008", "E:9009", "E:9011", "E:9012", "E:9013", "E:9014", "E:9015", "E:9016", "E:9017", "E:9018", "E:9019", "E:9020", "E:9031", "E:9032", "E:9033"]


def esc(v):
    return v.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


id_targets = [
    ("LinkAccount", "accountId", lambda v: f'<LinkAccount apiVersion="1" organisationCode="@@ODS@@" lastName="X" dateOfBirth="1980-02-14" accountId="{v}" passphrase="k">{APP}</LinkAccount>', None, ["E:8", "E:9004", "E:9008"]),
    ("LinkAccount", "organisationCode", lambda v: f'<LinkAccount apiVersion="1" organisationCode="{v}" lastName="X" dateOfBirth="1980-02-14" accountId="1" passphrase="k">{APP}</LinkAccount>', None, ["E:8", "E:555", "E:9004", "E:9008"]),
    ("LinkAccount", "nhsNumber", lambda v: f'<LinkAccount apiVersion="1" organisationCode="@@ODS@@" lastName="X" dateOfBirth="1980-02-14" nhsNumber="{v}">{APP}</LinkAccount>', None, ["E:5", "E:554", "E:9004", "E:9008"]),
    ("Authenticate", "accountId", lambda v: f'<Authenticate apiVersion="1" accountId="{v}" passphrase="p" providerId="@@PROVIDER@@">{APP}</Authenticate>', None, ["E:9", "E:9004"]),
    ("Authenticate", "unitId", lambda v: f'<Authenticate apiVersion="1" unitId="{v}" accountId="1" passphrase="p" providerId="@@PROVIDER@@">{APP}</Authenticate>', None, ["E:9", "E:9004"]),
    ("Authenticate", "providerId", lambda v: f'<Authenticate apiVersion="1" accountId="1" passphrase="p" providerId="{v}">{APP}</Authenticate>', None, ["E:9007", "E:9004"]),
    ("PatientSelected", "patientId", lambda v: f'<PatientSelected apiVersion="1" unitId="@@ODS@@" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("PatientSelected", "onlineUserId", lambda v: f'<PatientSelected apiVersion="1" unitId="@@ODS@@" patientId="@@PATIENT@@" onlineUserId="{v}"/>', "VALID", ["E:9009", "E:9004"]),
    ("ListServiceAccesses", "patientId", lambda v: f'<ListServiceAccesses apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("ListSlots", "patientId", lambda v: f'<ListSlots apiVersion="1" patientId="{v}" onlineUserId="@@USER@@" startDate="2030-01-01T00:00:00Z" numberOfDays="7"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("BookAppointment", "sessionId", lambda v: f'<BookAppointment {COMMON} sessionId="{v}" startDate="2030-01-01T09:00:00Z" endDate="2030-01-01T09:10:00Z"/>', "VALID", ["E:1102", "E:9004"]),
    ("CancelAppointment", "apptId", lambda v: f'<CancelAppointment {COMMON} apptId="{v}"/>', "VALID", ["E:9012", "E:9004"]),
    ("ViewAppointments", "onlineUserId", lambda v: f'<ViewAppointments apiVersion="1" patientId="@@PATIENT@@" onlineUserId="{v}" futureAppointments="Y"/>', "VALID", ["E:9009", "E:9004"]),
    ("RequestSystmOnlineMessages", "patientId", lambda v: f'<RequestSystmOnlineMessages apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("ListRepeatMedication", "patientId", lambda v: f'<ListRepeatMedication apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    # The runner's session has not fetched the list: 9013 comes before the course is looked up.
    ("RequestMedication", "drugId", lambda v: f'<RequestMedication {COMMON}><Medication drugId="{v}" type="Repeat"/></RequestMedication>', "VALID", ["E:9013", "E:9015", "E:9004"]),
    ("GetPrescriptionRequests", "patientId", lambda v: f'<GetPrescriptionRequests apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("AmendPrescriptionRequest", "requestId", lambda v: f'<AmendPrescriptionRequest {COMMON} requestId="{v}" action="Cancel"/>', "VALID", ["E:9019", "E:9004"]),
    ("RetrieveDemographics", "patientId", lambda v: f'<RetrieveDemographics apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("ChangeDemographics", "postcode", lambda v: f'<ChangeDemographics {COMMON}><Address street="High Street" postcode="{v}"/></ChangeDemographics>', "VALID", ["E:9021", "E:9024", "E:9026"]),
    ("ChangeDemographics", "number", lambda v: f'<ChangeDemographics {COMMON}><TelephoneNumbers><TelephoneNumber number="{v}" type="Home"/></TelephoneNumbers></ChangeDemographics>', "VALID", ["E:9022", "E:9004"]),
    ("RequestCommunityPharmacy", "postcode", lambda v: f'<RequestCommunityPharmacy {COMMON} postcode="{v}"/>', "VALID", ["E:9021", "OK"]),
    ("RequestCommunityPharmacy", "name", lambda v: f'<RequestCommunityPharmacy {COMMON} name="{v}"/>', "VALID", ["OK", "E:9004"]),
    ("UpdateCommunityPharmacy", "odsCode", lambda v: f'<UpdateCommunityPharmacy {COMMON} odsCode="{v}"/>', "VALID", ["E:9028", "E:9004"]),
    ("ResetOnlineAccount", "providerId", lambda v: f'<ResetOnlineAccount {COMMON} providerId="{v}"/>', "VALID", ["E:9030", "E:9004"]),
    ("RequestAccountInformation", "onlineUserId", lambda v: f'<RequestAccountInformation apiVersion="1" patientId="@@PATIENT@@" onlineUserId="{v}"/>', "VALID", ["E:9009", "E:9004"]),
    ("ViewPatientOverview", "patientId", lambda v: f'<ViewPatientOverview apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("RequestPatientRecord", "onlineUserId", lambda v: f'<RequestPatientRecord apiVersion="1" patientId="@@PATIENT@@" onlineUserId="{v}"/>', "VALID", ["E:9009", "E:9004"]),
    ("TestResultsView", "testResultId", lambda v: f'<TestResultsView {COMMON} testResultId="{v}"/>', "VALID", ["E:9032", "E:9004"]),
    ("RequestBinaryData", "binaryDataId", lambda v: f'<RequestBinaryData {COMMON} binaryDataId="{v}"/>', "VALID", ["E:9031", "E:9004"]),
    ("ListRecordAccesses", "patientId", lambda v: f'<ListRecordAccesses apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("ChangeDemographics", "email", lambda v: f'<ChangeDemographics {COMMON}><EmailAddress address="{v}"/></ChangeDemographics>', "VALID", ["E:9023", "E:9024", "OK"]),
    ("MessagesView", "patientId", lambda v: f'<MessagesView apiVersion="1" patientId="{v}" onlineUserId="@@USER@@"/>', "VALID", ["E:6", "E:9009", "E:9004"]),
    ("MessageCreate", "unitRecipientId", lambda v: f'<MessageCreate {COMMON} unitRecipientId="{v}" message="Hello"/>', "VALID", ["E:9041", "E:9004"]),
    ("MessageCreate", "message", lambda v: f'<MessageCreate {COMMON} recipientId="1" message="{v}"/>', "VALID", ["E:9041", "E:9043"]),
    # The file name is checked before the recipient: an unsafe name is 9050, a safe one 9041.
    ("MessageCreate", "fileName", lambda v: f'<MessageCreate {COMMON} recipientId="1" message="Hi"><Attachment fileName="{v}" fileType="pdf">JVBERi0x</Attachment></MessageCreate>', "VALID", ["E:9050", "E:9041", "E:9004"]),
    ("MessageCreate", "fileType", lambda v: f'<MessageCreate {COMMON} recipientId="1" message="Hi"><Attachment fileName="a.pdf" fileType="{v}">JVBERi0x</Attachment></MessageCreate>', "VALID", ["E:9046", "E:9004"]),
    ("MessageMarkAsRead", "messageId", lambda v: f'<MessageMarkAsRead {COMMON}><Message messageId="{v}"/></MessageMarkAsRead>', "VALID", ["E:9045", "E:9004"]),
    ("MessageDelete", "messageId", lambda v: f'<MessageDelete {COMMON}><Message messageId="{v}"/></MessageDelete>', "VALID", ["E:9045", "E:9004"]),
]
for t, attr, make, suid, expect in id_targets:
    for i, v in enumerate(payloads):
        add("injection", f"{t}-{attr}-{i}", [make(esc(v))], expect, type_=t, suid=suid, forbid=[v] if len(v) > 3 else None)
for i, v in enumerate(payloads[:8]):
    add("injection", f"suid-header-{i}", [f'<ViewAppointments {COMMON} futureAppointments="Y"/>'], ["E:3"], type_="ViewAppointments", suid=v, forbid=[v] if len(v) > 3 else None)
    add("injection", f"uuid-{i}", [f'<CheckVersion apiVersion="1" uuid="{esc(v)}">{APP}</CheckVersion>'], ["E:9004"], forbid=[v] if len(v) > 3 else None)

# --- http: the HTTP layer ------------------------------------------------------------------
HCV = CV.replace("@@UUID@@", UUID)


def flen(s):
    """The length of `s` once sent: the provider id is 16 characters."""
    return len(s.encode()) + s.count("@@PROVIDER@@") * (16 - len("@@PROVIDER@@"))



def head(method="POST", extra="", cl=True, type_="CheckVersion", path="/tpp/"):
    h = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
    if type_ is not None:
        h += f"type: {type_}\r\n"
    h += "Content-Type: text/xml; charset=utf-8\r\n"
    if cl:
        h += "Content-Length: @@CL@@\r\n"
    return h + extra + "\r\n"


for m in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "post", MARKER]:
    raw("http", f"method-{m}", [head(m)], [HCV], ["E:9001", "H:400", "H:405"] if m in ("post", MARKER) else ["E:9001"])
raw("http", "method-HEAD", [head("HEAD", cl=False)], [], ["H:405", "closed"])
raw("http", "method-CONNECT", ["CONNECT localhost:8443 HTTP/1.1\r\nHost: localhost:8443\r\ntype: CheckVersion\r\n\r\n"], [], ["H:405"])
raw("http", "http-1.0", [head().replace("HTTP/1.1", "HTTP/1.0")], [HCV], ["OK"])
raw("http", "http-2.0-line", [head().replace("HTTP/1.1", "HTTP/2.0")], [HCV], ["H:400", "H:505", "closed"])
raw("http", "http-9.9", [head().replace("HTTP/1.1", "HTTP/9.9")], [HCV], ["H:400", "H:505", "closed"])
raw("http", "garbage-request-line", [f"\x16\x03\x01{MARKER}\r\n\r\n"], [], ["H:400", "closed"])
raw("http", "absolute-uri", [head(path="http://evil.example/tpp/")], [HCV], ["OK"])
raw("http", "path-traversal", [head(path="/../../etc/passwd")], [HCV], ["OK"])
raw("http", "content-length-longer", [head().replace("@@CL@@", "@@CL+100@@")], [HCV], ["E:9001", "closed"])
raw("http", "content-length-shorter", [head().replace("@@CL@@", "@@CL-20@@")], [HCV], ["E:9001"])
raw("http", "content-length-zero", [head().replace("@@CL@@", "0")], [HCV], ["E:9001"])
raw("http", "content-length-negative", [head().replace("@@CL@@", "-1")], [HCV], ["H:400"])
raw("http", "content-length-huge", [head().replace("@@CL@@", "99999999999999999999")], [HCV], ["H:400", "E:9005"])
raw("http", "content-length-over-limit", [head().replace("@@CL@@", "1048577")], [HCV], ["E:9005"])
raw("http", "content-length-hex", [head().replace("@@CL@@", "0x10")], [HCV], ["H:400"])
raw("http", "content-length-plus", [head().replace("@@CL@@", "+@@CL@@")], [HCV], ["H:400"])
raw("http", "content-length-list", [head().replace("@@CL@@", "@@CL@@, @@CL@@")], [HCV], ["H:400", "OK"])
raw("http", "content-length-duplicate-same", [head(extra="Content-Length: @@CL@@\r\n")], [HCV], ["H:400", "OK"])
raw("http", "content-length-duplicate-different", [head(extra="Content-Length: @@CL+5@@\r\n")], [HCV, "x" * 5], ["H:400"])


def chunked(body, size=16, last="0\r\n\r\n"):
    # Chunked by the runner, after the placeholders are filled.
    return [{"chunked": [body], "size": size}, last]


raw("http", "chunked-valid", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], chunked(HCV), ["OK"])
raw("http", "chunked-one-byte-chunks", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], chunked(HCV, 1), ["OK"])
raw("http", "chunked-extensions", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], ["3;ext=1\r\n<Ch\r\n"] + chunked(HCV[3:]), ["OK"])
raw("http", "chunked-trailers", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], chunked(HCV, last=f"0\r\nX-Trailer: {MARKER}\r\n\r\n"), ["OK"])
raw("http", "chunked-bad-size", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], [f"zz\r\n{HCV}\r\n0\r\n\r\n"], ["H:400", "E:9001", "closed"])
raw("http", "chunked-size-overflow", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], [f"ffffffffffffffffff\r\n{HCV}\r\n0\r\n\r\n"], ["H:400", "E:9001", "closed"])
raw("http", "chunked-size-too-small", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], [f"5\r\n{HCV}\r\n0\r\n\r\n"], ["H:400", "E:9001", "closed"])
raw("http", "chunked-missing-crlf", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], [f"{flen(HCV):x}\r\n{HCV}0\r\n\r\n"], ["H:400", "E:9001", "closed"])
raw("http", "chunked-never-ending", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], ["d\r\n<CheckVersion\r\n"], ["E:9001", "closed"])
raw("http", "chunked-no-last-chunk", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], chunked(HCV, last=""), ["E:9001", "closed"])
raw("http", "chunked-over-limit", [head(cl=False, extra="Transfer-Encoding: chunked\r\n")], [{"repeat": ["8000\r\n", {"repeat": ["x"], "times": 0x8000}, "\r\n"], "times": 40}, "0\r\n\r\n"], ["E:9005", "closed"])
raw("http", "transfer-encoding-gzip", [head(cl=False, extra="Transfer-Encoding: gzip\r\n")], [HCV], ["H:400", "H:501", "closed"])
# Observed: the body is read as chunked and not decoded; it is plain XML here, so it is served.
raw("http", "transfer-encoding-gzip-chunked", [head(cl=False, extra="Transfer-Encoding: gzip, chunked\r\n")], chunked(HCV), ["H:400", "H:501", "E:9001", "closed", "OK"])
raw("http", "transfer-encoding-chunked-gzip", [head(cl=False, extra="Transfer-Encoding: chunked, gzip\r\n")], chunked(HCV), ["H:400", "H:501", "closed"])
raw("http", "transfer-encoding-identity", [head(extra="Transfer-Encoding: identity\r\n")], [HCV], ["H:400", "H:501", "closed"])
raw("http", "transfer-encoding-duplicate", [head(cl=False, extra="Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")], chunked(HCV), ["H:400", "OK"])
raw("http", "transfer-encoding-space-before-colon", [head(extra="Transfer-Encoding : chunked\r\n")], [HCV], ["H:400", "OK"])
raw("http", "transfer-encoding-obs-fold", [head(extra="X: y\r\n Transfer-Encoding: chunked\r\n")], [HCV], ["H:400", "OK"])
# Both Content-Length and Transfer-Encoding: chunked wins and the connection is closed after the
# reply (RFC 9112, 6.3); the request hidden after the last chunk is never answered ("single").
SMUGGLE = ["H:400", "closed", "OK", "E:9001"]
smuggled = f"POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: {MARKER}\r\nContent-Length: 0\r\n\r\n"
raw("http", "smuggle-cl-te", [head(extra="Transfer-Encoding: chunked\r\n")], chunked(HCV, last="0\r\n\r\n" + smuggled), SMUGGLE)
raw("http", "smuggle-te-cl", [head(cl=False, extra="Transfer-Encoding: chunked\r\nContent-Length: 4\r\n")], chunked(HCV, last="0\r\n\r\n" + smuggled), SMUGGLE)
raw("http", "smuggle-cl-te-zero", [head(extra="Transfer-Encoding: chunked\r\n")], ["0\r\n\r\n" + smuggled], SMUGGLE)
raw("http", "smuggle-two-cl", [head(extra="Content-Length: 0\r\n")], [HCV + smuggled], ["H:400"])
raw("http", "smuggle-te-tab", [head(extra="Transfer-Encoding:\tchunked\r\n")], chunked(HCV, last="0\r\n\r\n" + smuggled), SMUGGLE)
raw("http", "smuggle-te-xchunked", [head(extra="Transfer-Encoding: xchunked\r\n")], [HCV], ["H:400", "H:501", "closed"])
raw("http", "smuggle-te-uppercase", [head(extra="Transfer-Encoding: CHUNKED\r\n")], chunked(HCV, last="0\r\n\r\n" + smuggled), SMUGGLE)
raw("http", "bare-lf-line-endings", [head().replace("\r\n", "\n")], [HCV], ["OK", "H:400"])
raw("http", "bare-cr-in-header", [head(extra=f"X-Junk: a\rb{MARKER}\r\n")], [HCV], ["H:400"])
raw("http", "nul-in-header", [head(extra=f"X-Junk: a\x00b{MARKER}\r\n")], [HCV], ["H:400"])
raw("http", "space-in-header-name", [head(extra=f"X Junk: {MARKER}\r\n")], [HCV], ["H:400"])
raw("http", "no-host", [head().replace("Host: localhost\r\n", "")], [HCV], ["OK", "H:400"])
raw("http", "headers-100", [head(extra="".join(f"X-H{i}: {i}\r\n" for i in range(90)))], [HCV], ["OK"])
raw("http", "headers-too-many", [head(extra="".join(f"X-H{i}: {i}\r\n" for i in range(200)))], [HCV], ["H:431", "closed"])


def latin1(h):
    """A head in which U+00E9 is the single byte E9 (Latin-1), not UTF-8."""
    parts = []
    for i, piece in enumerate(h.split("\xe9")):
        if i:
            parts.append({"hex": "e9"})
        parts.append(piece)
    return parts


def big_head(h, n, ch="x"):
    """A head with N times `ch` where it says BIG."""
    a, b = h.split("BIG")
    return [a, {"repeat": [ch], "times": n}, b]


raw("http", "header-value-64k", big_head(head(extra=f"X-Big: {MARKER}BIG\r\n"), 65536), [HCV], ["OK", "H:431", "closed"])
raw("http", "header-value-1MiB", big_head(head(extra=f"X-Big: {MARKER}BIG\r\n"), 1048576), [HCV], ["H:431", "closed"])
raw("http", "header-name-1MiB", big_head(head(extra="XBIG: 1\r\n"), 1048576), [HCV], ["H:431", "closed"])
raw("http", "request-line-1MiB", big_head(head(path="/BIG"), 1048576, "a"), [HCV], ["H:414", "H:431", "H:400", "closed"])
raw("http", "type-300k", big_head(head(type_=MARKER + "BIG"), 300000), [HCV], ["E:9002", "H:431", "closed"])
raw("http", "suid-300k", big_head(head(extra=f"suid: {MARKER}BIG\r\n"), 300000), [HCV], ["OK", "H:431", "closed"])
raw("http", "headers-unterminated", [head()[:-2]], [], ["closed"])
for name, v in [("cr", "Check\rVersion"), ("lf-injected-header", "CheckVersion\r\nsuid: x"), ("nul", "Check\x00Version"), ("tab", "\tCheckVersion\t"), ("del", "Check\x7fVersion"), ("latin1", "Check\xe9Version"), ("utf8", "CheckVersión"), ("space-inside", "Check Version"), ("crlf-marker", f"CheckVersion\r\n{MARKER}: 1"), ("empty", "")]:
    ok = {"tab": ["OK"], "lf-injected-header": ["OK", "H:400"], "crlf-marker": ["OK"]}.get(name, ["E:9002", "H:400"])
    raw("http", f"type-junk-{name}", latin1(head(type_=v)), [HCV], ok)
for name, v in [("cr", "ab\rcd"), ("crlf", f"ab\r\n{MARKER}: 1"), ("nul", "ab\x00cd"), ("latin1", "ab\xe9cd"), ("utf8", f"{MARKER}\u00e9"), ("sql", "' OR 1=1 --"), ("empty", ""), ("long", MARKER * 100)]:
    raw("http", f"suid-junk-{name}", latin1(f"POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: ViewAppointments\r\nsuid: {v}\r\nContent-Length: @@CL@@\r\n\r\n"),
        [f'<ViewAppointments {COMMON} futureAppointments="Y"/>'], ["E:3", "H:400"], forbid=[v] if len(v) > 3 and name != "crlf" else None)
raw("http", "type-twice", [head(extra="type: CheckVersion\r\n")], [HCV], ["E:9001"])
raw("http", "type-twice-different-case", [head(extra="TYPE: Logoff\r\n")], [HCV], ["E:9001"])
raw("http", "suid-twice", [head(extra="suid: @@SUID@@\r\nsuid: @@SUID@@\r\n")], [HCV], ["E:9001"])
raw("http", "suid-twice-in-session", [f"POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: ViewAppointments\r\nsuid: @@SUID@@\r\nSuid: {MARKER}\r\nContent-Length: @@CL@@\r\n\r\n"], [f'<ViewAppointments {COMMON} futureAppointments="Y"/>'], ["E:9001"])
raw("http", "expect-100-continue", [head(extra="Expect: 100-continue\r\n")], [HCV], ["OK"])
raw("http", "expect-junk", [head(extra=f"Expect: {MARKER}\r\n")], [HCV], ["OK", "H:417"])
raw("http", "upgrade-h2c", [head(extra="Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n")], [HCV], ["OK"])
raw("http", "h2-preface", ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], [], ["H:400", "closed"])
one = head().replace("@@CL@@", str(flen(HCV)))
raw("http", "pipelined-two", [one], [HCV, one, HCV], ["OK"])

# ---------------------------------------------------------------------------------------------
for old in HERE.glob("*.jsonl"):
    old.unlink()
total = 0
for cls, cases in classes.items():
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), f"duplicate names in {cls}"
    with open(HERE / f"{cls}.jsonl", "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=True, separators=(",", ":")) + "\n")
    total += len(cases)
    print(f"{cls}: {len(cases)}")
print(f"total: {total}")
