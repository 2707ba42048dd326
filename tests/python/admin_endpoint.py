#!/usr/bin/env python3
"""The standalone emulator's accounts file, admin endpoint and daily invitation quota, from Python.

Starts the emulator binary with a generated district (--accounts FILE) and a daily invitation
quota of 2 (--daily-invitations 2); adds a user through the admin endpoint (urllib, HTTP Basic
with the emulator's client), mints a token for that user and reads their profile with Google's
own client (google-api-python-client); renames a course as its teacher; spends the invitation
quota, moves the quota day on and invites again. Also: a refused accounts file exits 2 naming
the file and entry, and the admin endpoint answers 401 to a caller without the client's
credentials, even one holding a valid API token.

Usage:
    admin_endpoint.py --binary PATH/TO/classroom-emulator
    admin_endpoint.py            # runs `cargo run --example emulator --`

Needs: pip install google-api-python-client
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DOMAIN = "district.example"


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"ok: {message}")


def district():
    """A small generated district: 5 teachers, 40 students."""
    users = [
        {"email": f"teacher{i}@{DOMAIN}", "givenName": f"Teacher{i}", "familyName": "Staff", "role": "teacher"}
        for i in range(5)
    ]
    users += [
        {"email": f"student{i}@{DOMAIN}", "givenName": f"Student{i}", "familyName": "Pupil", "role": "student"}
        for i in range(40)
    ]
    return {"domain": DOMAIN, "users": users}


def write_json(directory, name, document):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        # One user a line, so errors name a line an editor shows.
        f.write('{"domain": "%s", "users": [\n' % document["domain"])
        f.write(",\n".join(json.dumps(u) for u in document["users"]))
        f.write("\n]}\n")
    return path


class Emulator:
    def __init__(self, command, args):
        self.process = subprocess.Popen(
            command + ["--port", "0"] + args, cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        for key in ("root", "token_url", "client_id", "client_secret"):
            if key not in fields:
                self.stop()
                sys.exit(f"the emulator line lacks {key}: {line!r}")
        self.root = fields["root"]
        self.client_id = fields["client_id"]
        self.client_secret = fields["client_secret"]

    def stop(self):
        self.process.kill()
        self.process.wait()

    def admin(self, path, body, authorization="basic"):
        """POST to the admin endpoint; returns (status, JSON body, headers)."""
        if authorization == "basic":
            credentials = f"{self.client_id}:{self.client_secret}".encode()
            authorization = "Basic " + base64.b64encode(credentials).decode()
        headers = {"Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(
            self.root + "emulator/v1/" + path, data=json.dumps(body).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response), response.headers
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), e.headers

    def token(self, user, scopes):
        status, body, _ = self.admin("tokens", {"user": user, "scopes": scopes})
        if status != 200:
            raise AssertionError(f"minting a token for {user}: {status} {body}")
        return body["access_token"]

    def classroom(self, access_token):
        with open(os.path.join(REPO, "spec", "discovery", "classroom.v1.json")) as f:
            doc = json.load(f)
        doc["rootUrl"] = self.root
        doc["baseUrl"] = self.root + doc.get("servicePath", "")
        return build_from_document(doc, credentials=Credentials(access_token))


def refused_file(command, directory):
    """A bad role on the third line: exit 2, the file, line and entry on stderr."""
    document = district()
    document["users"][1]["role"] = "Teacher"
    path = write_json(directory, "bad-district.json", document)
    done = subprocess.run(
        command + ["--port", "0", "--accounts", path], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    check(done.returncode == 2, f"a refused accounts file exits 2 (got {done.returncode})")
    check(done.stdout == "", "no line on stdout when the file is refused")
    check(
        f"{path}:3: users[1] (teacher1@{DOMAIN}): role \"Teacher\"" in done.stderr,
        f"stderr names the file, line and entry: {done.stderr.strip()}",
    )


def run(command, directory):
    refused_file(command, directory)
    emulator = Emulator(
        command, ["--accounts", write_json(directory, "district.json", district()), "--daily-invitations", "2"]
    )
    try:
        checks(emulator)
    finally:
        emulator.stop()


def checks(emulator):
    # The admin endpoint is for the emulator's client only.
    status, body, headers = emulator.admin("users", {"users": []}, authorization=None)
    check(status == 401 and body["error"]["status"] == "UNAUTHENTICATED", "no credentials: 401 UNAUTHENTICATED")
    check(headers.get("WWW-Authenticate", "").startswith("Basic"), "the 401 asks for HTTP Basic")
    api_token = emulator.token("admin", ["classroom.courses"])
    status, _, _ = emulator.admin("tokens", {"user": "admin", "scopes": ["classroom.courses"]}, "Bearer " + api_token)
    check(status == 401, "a valid API token cannot use the admin endpoint")

    # A user of the file signs in.
    teacher = emulator.classroom(
        emulator.token(f"teacher3@{DOMAIN}", ["classroom.courses", "classroom.rosters", "classroom.profile.emails"])
    )
    me = teacher.userProfiles().get(userId="me").execute()
    check(me["emailAddress"] == f"teacher3@{DOMAIN}", "a teacher of the accounts file is a user")

    # A user added through the admin endpoint acts at once.
    status, body, _ = emulator.admin(
        "users",
        {"domain": DOMAIN, "users": [
            {"email": f"new.hire@{DOMAIN}", "givenName": "New", "familyName": "Hire", "role": "teacher"}
        ]},
    )
    check(status == 200 and body["users"][0]["email"] == f"new.hire@{DOMAIN}", "the admin endpoint adds a user")
    new_id = body["users"][0]["id"]
    new_hire = emulator.classroom(
        emulator.token(f"new.hire@{DOMAIN}", ["classroom.courses", "classroom.rosters", "classroom.profile.emails"])
    )
    profile = new_hire.userProfiles().get(userId="me").execute()
    check(profile["id"] == new_id and profile["name"]["fullName"] == "New Hire", "userProfiles.get as the new user")
    status, body, _ = emulator.admin(
        "users", {"users": [{"email": f"new.hire@{DOMAIN}", "givenName": "New", "familyName": "Hire", "role": "teacher"}]}
    )
    check(status == 409 and "users[0]" in body["error"]["message"], "adding the same email again: 409 naming the entry")

    # The new teacher makes a course and renames it as its teacher.
    course = new_hire.courses().create(body={"name": "Biology 9", "ownerId": "me", "courseState": "ACTIVE"}).execute()
    renamed = new_hire.courses().patch(id=course["id"], updateMask="name", body={"name": "Biology 9 (B)"}).execute()
    check(renamed["name"] == "Biology 9 (B)", "a course renamed as its teacher")

    # The daily invitation quota: 2 a day, then 429 until the quota day moves on.
    admin = emulator.classroom(emulator.token("admin", ["classroom.guardianlinks.students"]))

    def invite(student, guardian):
        return admin.userProfiles().guardianInvitations().create(
            studentId=f"{student}@{DOMAIN}",
            body={"studentId": f"{student}@{DOMAIN}", "invitedEmailAddress": guardian},
        ).execute()

    invite("student1", "parent1@family.example")
    invite("student2", "parent2@family.example")
    try:
        invite("student3", "parent3@family.example")
        raise AssertionError("a third invitation on the day was accepted")
    except HttpError as e:
        error = json.loads(e.content)["error"]
        check(e.resp.status == 429 and error["status"] == "RESOURCE_EXHAUSTED", "the third invitation: 429")
        check(error["message"].startswith("@UserInvitationQuotaExhausted"), "reason @UserInvitationQuotaExhausted")
    status, body, _ = emulator.admin("quotas/day:advance", {"days": 1})
    check(status == 200 and len(body["quotaDay"]) == 10, f"the quota day moves on to {body.get('quotaDay')}")
    renewed = invite("student3", "parent3@family.example")
    check(renewed["state"] == "PENDING", "the next day, the quota is renewed")
    found = admin.userProfiles().guardianInvitations().list(
        studentId=f"student3@{DOMAIN}", invitedEmailAddress="parent3@family.example"
    ).execute()
    check(len(found.get("guardianInvitations", [])) == 1, "guardianInvitations.list by invitedEmailAddress")
    print("admin endpoint: all checks passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", help="the classroom-emulator binary")
    args = parser.parse_args()
    command = [args.binary] if args.binary else ["cargo", "run", "--quiet", "--example", "emulator", "--"]
    with tempfile.TemporaryDirectory() as directory:
        run(command, directory)


if __name__ == "__main__":
    main()
