#!/usr/bin/env python3
"""Google's own Python client (google-api-python-client) against the Classroom emulator.

The client is built from the same discovery document as the Rust SDK, with its root URL
pointed at the emulator. It pages through courses, creates coursework and reads it back,
patches a course with updateMask, sends a batch, and gets the 403 a token without the
right scope earns.

Usage:
    third_party_client.py --line "root=... token_url=... client_id=... client_secret=..."
    third_party_client.py            # starts `cargo run --example emulator -- --port 0`

Needs: pip install google-api-python-client
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCOPE = "https://www.googleapis.com/auth/classroom."


def parse_line(line):
    fields = dict(part.split("=", 1) for part in line.split())
    for key in ("root", "token_url", "client_id", "client_secret"):
        if key not in fields:
            sys.exit(f"the emulator line lacks {key}: {line!r}")
    return fields


def token(emulator, scopes):
    """Client credentials grant (RFC 6749 section 4.4) with HTTP Basic client auth."""
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "scope": " ".join(SCOPE + s for s in scopes)}
    ).encode()
    basic = base64.b64encode(
        f"{emulator['client_id']}:{emulator['client_secret']}".encode()
    ).decode()
    request = urllib.request.Request(
        emulator["token_url"],
        data=body,
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def service(emulator, access_token):
    with open(os.path.join(REPO, "spec", "discovery", "classroom.v1.json")) as f:
        doc = json.load(f)
    doc["rootUrl"] = emulator["root"]
    doc["baseUrl"] = emulator["root"] + doc.get("servicePath", "")
    return build_from_document(doc, credentials=Credentials(access_token))


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"ok: {message}")


def run(emulator):
    classroom = service(emulator, token(emulator, ["courses", "coursework.students", "rosters"]))

    # Paging: make enough courses for several pages, then follow nextPageToken.
    for i in range(7):
        classroom.courses().create(
            body={"name": f"Python course {i}", "ownerId": "ada.lovelace@school.example"}
        ).execute()
    seen, pages = [], 0
    request = classroom.courses().list(pageSize=3)
    while request is not None:
        response = request.execute()
        pages += 1
        seen.extend(c["id"] for c in response.get("courses", []))
        request = classroom.courses().list_next(request, response)
    check(len(seen) == 10 and len(set(seen)) == 10, f"paged through 10 courses in {pages} pages")
    check(pages == 4, "pageSize=3 gives 4 pages for 10 courses")

    # Coursework: create, read back.
    work = classroom.courses().courseWork().create(
        courseId="d:math-101",
        body={
            "title": "Python-made worksheet",
            "workType": "ASSIGNMENT",
            "state": "PUBLISHED",
            "maxPoints": 25,
            "dueDate": {"year": 2099, "month": 6, "day": 1},
            "dueTime": {"hours": 12, "minutes": 0},
        },
    ).execute()
    check(work.get("id") and work.get("creationTime"), "coursework gets an id and a timestamp")
    read = classroom.courses().courseWork().get(courseId="d:math-101", id=work["id"]).execute()
    check(read["title"] == "Python-made worksheet" and read["maxPoints"] == 25, "coursework reads back")
    subs = classroom.courses().courseWork().studentSubmissions().list(
        courseId="d:math-101", courseWorkId=work["id"]
    ).execute()
    check(len(subs.get("studentSubmissions", [])) == 6, "one submission per student")

    # Patch with updateMask: only the masked field changes.
    before = classroom.courses().get(id="d:math-101").execute()
    patched = classroom.courses().patch(
        id="d:math-101",
        updateMask="section",
        body={"section": "Period 2", "room": "not in the mask"},
    ).execute()
    check(patched["section"] == "Period 2", "the masked field is patched")
    check(patched.get("room") == before.get("room"), "a field outside the mask is kept")
    try:
        classroom.courses().patch(
            id="d:math-101", updateMask="enrollmentCode", body={"enrollmentCode": "x"}
        ).execute()
        raise AssertionError("a mask outside the allowed fields was accepted")
    except HttpError as e:
        check(e.resp.status == 400, "a mask outside the allowed fields gets 400")

    # Batch: the client's multipart/mixed against the emulator's batch endpoint.
    results = {}

    def collect(request_id, response, exception):
        results[request_id] = exception.resp.status if exception else response.get("name")

    batch = classroom.new_batch_http_request(callback=collect)
    batch.add(classroom.courses().get(id="d:math-101"), request_id="math")
    batch.add(classroom.courses().get(id="d:cs-201"), request_id="cs")
    batch.add(classroom.courses().get(id="no-such-course"), request_id="missing")
    batch.execute()
    check(results.get("cs") == "Computer Science", "batch part answered")
    check(results.get("missing") == 404, "batch part errors stay per part")

    # Scope: a read-only token cannot create; the server says why.
    readonly = service(emulator, token(emulator, ["courses.readonly"]))
    readonly.courses().list(pageSize=1).execute()
    try:
        readonly.courses().create(body={"name": "Nope", "ownerId": "me"}).execute()
        raise AssertionError("a read-only token created a course")
    except HttpError as e:
        error = json.loads(e.content)["error"]
        reasons = [d.get("reason") for d in error.get("details", [])]
        check(e.resp.status == 403 and error["status"] == "PERMISSION_DENIED", "403 PERMISSION_DENIED")
        check("ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons, "reason ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    print("third-party client: all checks passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line", help="the line the emulator example prints")
    args = parser.parse_args()
    if args.line:
        run(parse_line(args.line))
        return
    emulator = subprocess.Popen(
        ["cargo", "run", "--quiet", "--example", "emulator", "--", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run(parse_line(emulator.stdout.readline()))
    finally:
        emulator.kill()
        emulator.wait()


if __name__ == "__main__":
    main()
