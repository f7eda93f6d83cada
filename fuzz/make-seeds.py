#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/) from the golden tests'
XML literals in crates/pfs-wire/tests/*.rs: every request body under its `type`, with the
patient ids of the examples replaced by the placeholders the `serve` target fills in.
Re-run after adding golden tests: python3 fuzz/make-seeds.py"""
import hashlib, pathlib, re

root = pathlib.Path(__file__).resolve().parent.parent
lib = (root / "crates/pfs-wire/src/lib.rs").read_text()
types = re.findall(r"^\s+(\w+),$", lib.split("macro_rules! for_each_request")[1].split("};")[0], re.M)
bodies = set()
for path in sorted((root / "crates/pfs-wire/tests").glob("*.rs")):
    text = path.read_text()
    # A body may be written as several adjacent r#"…"# literals: join runs of them.
    for run in re.findall(r'((?:r#"[^"]*(?:"[^#][^"]*)*"#\s*,?\s*)+)', text):
        parts = re.findall(r'r#"(.*?)"#', run, re.S)
        body = "".join(parts)
        m = re.match(r'(?:<\?xml[^>]*\?>)?\s*<(\w+)', body)
        if m and m.group(1) in types:
            bodies.add((m.group(1), body))

def write(target, name, data):
    d = root / "fuzz/corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / (name + "-" + hashlib.sha1(data).hexdigest()[:10])).write_bytes(data)

for t, body in sorted(bodies):
    seed = (t + "\n" + body).encode()
    write("request_decode", t, seed)
    # Inside the fuzzed session the examples' patients are the demo ones.
    filled = re.sub(r'(patientId|onlineUserId)="[^"]*"', lambda m: f'{m.group(1)}="$P"', body)
    write("serve", t, (t + "\n" + filled).encode())
for i, s in enumerate(["2024-06-03T14:07:12.3Z", "2024-06-04T09:00:00+00:00", "1985-05-29",
                       "1985-05-29T00:00:00", "2024-06-03T09:30:00.0Z", "y", "N",
                       "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"]):
    write("scalars", f"s{i}", s.encode())
admin = [
    (0, '{"ods":"X12345","name":"Fuzz Surgery","address":"1 Road, Town, LS1 1AA"}'),
    (1, '{"minimumAge":16,"bookingWindowDays":56,"maxFutureAppointments":4,"cancellationCutoffMinutes":60}'),
    (2, '{"enabled":false}'),
    (3, '{"sessionType":"Morning surgery","staffDetails":"Dr A","location":"Main","slotType":"Routine","start":"2027-01-04T09:00:00","slotMinutes":10,"slotCount":6}'),
    (4, '{"ods":"Y99001","nhsNumber":"9990000999","title":"Mr","firstName":"Fuzz","lastName":"Test","dateOfBirth":"1990-01-01","gender":"Male","address":"2 Road, Town"}'),
    (5, '{"patientId":"$Q"}'),
    (6, '{"enabled":true}'),
    (7, '{}'),
    (8, '{"name":"Fuzz app"}'),
    (9, '{"drug":"Fuzz 5mg tablets","details":"One daily","courseType":"Repeat","requestable":true,"maxIssues":6}'),
    (10, '{"requestable":false,"maxIssues":null}'),
    (11, '{"comment":"Ready to collect"}'),
    (1, '{"acuteRequestsAllowed":true,"maxMedicationsPerRequest":4,"maxMedicationNotes":200}'),
    (12, '{"address":{"houseNameFlat":"2","street":"Low Road","town":"Leeds","postcode":"ls1 1aa"},"telephones":[{"number":"07700 900001","type":"Mobile"}],"email":"ada@example.org"}'),
    (12, '{"address":{"street":"Low Road","postcode":"GIR 0AA"},"telephones":[],"email":null}'),
    (13, '{"comment":"Please phone the surgery"}'),
    (1, '{"demographicsApproval":true}'),
    (14, '{"ods":"FZ001","name":"Fuzz Pharmacy","street":"High Street","town":"Leeds","postcode":"LS1 4AP","telephone":"0113 496 0000"}'),
    (15, 'ods_code,name,house_name_flat,street,village,town,county,postcode,telephone,status\nFZ002,"Fuzz, Chemist",1,Low Road,,Leeds,,ls1 1ab,,open\n'),
    (16, '{"odsCode":"FZ001"}'),
    (16, '{"odsCode":null}'),
    (17, '{"kind":"UnitRecipient","name":"Fuzz team","enabled":true}'),
    (18, '{"name":"Fuzz doctor","enabled":false}'),
    (19, '{"fromRecipientId":"999999999999","text":"Fuzz reply","attachments":[{"fileName":"a.pdf","fileType":"pdf","content":"JVBERi0xLjQK"}]}'),
    (20, '{"messageIds":["999999999999"]}'),
    (21, '{"match":{"messageType":"ViewAppointments"},"trigger":{"count":1},"action":{"kind":"error","errorCode":"9010"}}'),
    (22, '{"advanceSeconds":1260}'),
    (22, '{"now":"2027-01-04T09:00:00Z"}'),
    (23, '{"name":"fuzz-snapshot"}'),
    (24, '{"seed":7,"count":2}'),
    (25, '{"seed":7,"practice":1,"from":0,"count":20}'),
    (26, '{"name":"fuzz-namespace"}'),
]
for sel, body in admin:
    write("admin_json", f"r{sel}", bytes([sel]) + body.encode())
print(f"{len(bodies)} request bodies from the golden tests")
