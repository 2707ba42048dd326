#!/usr/bin/env node
// Google's own Node client (@googleapis/classroom, with google-auth-library) against the
// Classroom emulator.
//
// The client is Google's generated Classroom v1 client with its root URL pointed at the
// emulator; google-auth-library's OAuth2Client, its endpoints pointed at the emulator too,
// does the authorization code flow with PKCE (as a teacher and as a student, chosen with
// login_hint) and refreshes tokens by itself. The script pages through courses, reads and
// changes rosters, creates coursework, grades and returns submissions as the teacher and
// turns them in as the student, invites a guardian, and checks the status, canonical status
// and reason of the errors Classroom documents. Batches are not covered: the Node client has
// no batch support (google-api-python-client's check is in tests/python).
//
// Usage:
//   node third_party_client.mjs --line "root=... token_url=... client_id=... client_secret=..."
//   node third_party_client.mjs        # starts `cargo run --example emulator -- --port 0`
//
// Needs: `npm ci` in this directory (the versions package-lock.json pins). google-auth-library
// is a direct dependency because the script imports it; it is pinned to the version
// @googleapis/classroom's googleapis-common (^8) resolves to, so there is one copy and the
// OAuth2Client made here is the one the API client expects.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { classroom as classroomApi } from '@googleapis/classroom';
import { OAuth2Client } from 'google-auth-library';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCOPE = 'https://www.googleapis.com/auth/classroom.';
// The demo school's names, fixed by the emulator (emulator/src/seed.rs, `demo`).
const TEACHER = 'ada.lovelace@school.example';
const SECOND_TEACHER = 'alan.turing@school.example';
const STUDENT = 'grace.hopper@school.example';
const SECOND_STUDENT = 'katherine.johnson@school.example';
const OTHER_STUDENT = 'donald.knuth@school.example';
const GUARDIAN = 'pat.hopper@family.example';
const MATH = 'd:math-101';
// Never contacted: the authorization redirect is read, not followed.
const REDIRECT_URI = 'http://127.0.0.1:1/oauth2callback';

function parseLine(line) {
  const fields = {};
  for (const part of line.trim().split(/\s+/)) {
    const at = part.indexOf('=');
    if (at > 0) fields[part.slice(0, at)] = part.slice(at + 1);
  }
  for (const key of ['root', 'token_url', 'client_id', 'client_secret']) {
    if (!(key in fields)) throw new Error(`the emulator line lacks ${key}: ${JSON.stringify(line)}`);
  }
  return fields;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

/** Client credentials grant (RFC 6749 section 4.4) with HTTP Basic client auth: the domain
 * administrator's token, which google-auth-library has no flow for. */
async function clientCredentialsToken(emulator, scopes) {
  const basic = Buffer.from(`${emulator.client_id}:${emulator.client_secret}`).toString('base64');
  const response = await fetch(emulator.token_url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: scopes.map(s => SCOPE + s).join(' '),
    }),
  });
  if (!response.ok) throw new Error(`token endpoint: ${response.status} ${await response.text()}`);
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: (await response.json()).access_token });
  return auth;
}

function oauthClient(emulator) {
  return new OAuth2Client({
    clientId: emulator.client_id,
    clientSecret: emulator.client_secret,
    redirectUri: REDIRECT_URI,
    endpoints: {
      oauth2AuthBaseUrl: new URL('o/oauth2/v2/auth', emulator.root).href,
      oauth2TokenUrl: emulator.token_url,
    },
  });
}

/** The authorization code flow with PKCE, as a web app signs a user in: the emulator's
 * scripted consent answers the authorization URL with a redirect carrying the code. */
async function signIn(emulator, user, scopes) {
  const auth = oauthClient(emulator);
  const { codeVerifier, codeChallenge } = await auth.generateCodeVerifierAsync();
  const state = `state-${user}`;
  const url = auth.generateAuthUrl({
    access_type: 'offline',
    scope: scopes.map(s => SCOPE + s),
    login_hint: user,
    state,
    code_challenge_method: 'S256',
    code_challenge: codeChallenge,
  });
  const consent = await fetch(url, { redirect: 'manual' });
  const location = new URL(consent.headers.get('location') ?? '', REDIRECT_URI);
  if (consent.status !== 302 || !location.searchParams.get('code')) {
    throw new Error(`authorization as ${user}: ${consent.status} ${location}`);
  }
  if (location.searchParams.get('state') !== state) {
    throw new Error(`authorization as ${user}: the state came back as ${location.searchParams.get('state')}`);
  }
  const { tokens } = await auth.getToken({ code: location.searchParams.get('code'), codeVerifier });
  auth.setCredentials(tokens);
  return auth;
}

/** The error a call must fail with: HTTP status, canonical status, and the `@Name` its
 * message starts with or the ErrorInfo reason, when given. Returns Google's error object. */
async function refused(call, { code, status, prefix, reason }, what) {
  let error;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  if (!error) throw new Error(`check failed: ${what}: the call succeeded`);
  const body = error.response?.data?.error;
  if (!body) throw error;
  const reasons = (body.details ?? []).map(d => d.reason).filter(Boolean);
  const got = `${error.status} ${body.status} ${JSON.stringify(body.message)} ${reasons}`;
  check(
    error.status === code &&
      body.code === code &&
      body.status === status &&
      (prefix === undefined || body.message.startsWith(prefix)) &&
      (reason === undefined || reasons.includes(reason)),
    `${what}: ${code} ${status}${prefix ? ` ${prefix}` : ''}${reason ? ` ${reason}` : ''} (got ${got})`,
  );
  return body;
}

async function run(emulator) {
  const api = auth => classroomApi({ version: 'v1', auth, rootUrl: emulator.root });
  const admin = api(
    await clientCredentialsToken(emulator, [
      'courses',
      'rosters',
      'coursework.students',
      'guardianlinks.students',
      'profile.emails',
    ]),
  );
  const teacherAuth = await signIn(emulator, TEACHER, [
    'courses',
    'rosters',
    'coursework.students',
    'profile.emails',
  ]);
  const teacher = api(teacherAuth);
  const student = api(await signIn(emulator, STUDENT, ['courses.readonly', 'coursework.me']));

  // Who the tokens act as.
  const me = (await teacher.userProfiles.get({ userId: 'me' })).data;
  check(me.emailAddress === TEACHER, 'the authorization code flow signs in the login_hint user');
  check(
    teacherAuth.credentials.refresh_token && teacherAuth.credentials.expiry_date > Date.now(),
    'the code exchange gives a refresh token and an expiry',
  );

  // Paging: make enough courses for several pages, then follow nextPageToken.
  for (let i = 0; i < 7; i++) {
    await admin.courses.create({ requestBody: { name: `Node course ${i}`, ownerId: TEACHER } });
  }
  const seen = [];
  let pages = 0;
  let pageToken;
  do {
    const { data } = await admin.courses.list({ pageSize: 3, pageToken });
    pages += 1;
    seen.push(...(data.courses ?? []).map(c => c.id));
    pageToken = data.nextPageToken;
  } while (pageToken);
  check(seen.length === 10 && new Set(seen).size === 10, `paged through 10 courses in ${pages} pages`);
  check(pages === 4, 'pageSize=3 gives 4 pages for 10 courses');
  const asStudent = (await admin.courses.list({ studentId: STUDENT, pageSize: 100 })).data.courses ?? [];
  check(asStudent.length === 3, 'courses.list with studentId gives the student\'s 3 courses');

  // Courses: read by alias, patch with updateMask, errors.
  const before = (await teacher.courses.get({ id: MATH })).data;
  check(before.name === 'Mathematics 101', 'a course reads by its alias');
  const patched = (
    await teacher.courses.patch({
      id: MATH,
      updateMask: 'section',
      requestBody: { section: 'Period 2', room: 'not in the mask' },
    })
  ).data;
  check(patched.section === 'Period 2', 'the masked field is patched');
  check(patched.room === before.room, 'a field outside the mask is kept');
  await refused(
    () => teacher.courses.patch({ id: MATH, updateMask: 'enrollmentCode', requestBody: { enrollmentCode: 'x' } }),
    { code: 400, status: 'INVALID_ARGUMENT' },
    'a mask outside the allowed fields',
  );
  await refused(
    () => teacher.courses.get({ id: 'no-such-course' }),
    { code: 404, status: 'NOT_FOUND' },
    'an unknown course',
  );
  await refused(
    () => teacher.courses.create({ requestBody: { name: 'Visit https://example.com', ownerId: 'me' } }),
    { code: 400, status: 'FAILED_PRECONDITION', prefix: '@CourseTitleCannotContainUrl' },
    'a course name with a URL',
  );

  // Rosters.
  const students = (await teacher.courses.students.list({ courseId: MATH })).data.students ?? [];
  check(students.length === 6, 'the mathematics course has 6 students');
  check(
    students.some(s => s.profile?.emailAddress === STUDENT && s.profile?.name?.fullName === 'Grace Hopper'),
    'students come with their profile (name, email with profile.emails)',
  );
  const teachers = (await teacher.courses.teachers.list({ courseId: MATH })).data.teachers ?? [];
  check(
    teachers.map(t => t.profile?.emailAddress).sort().join() === [TEACHER, SECOND_TEACHER].sort().join(),
    'the mathematics course has its owner and a co-teacher',
  );
  const fresh = (
    await teacher.courses.create({ requestBody: { name: 'Node roster course', ownerId: 'me', courseState: 'ACTIVE' } })
  ).data;
  const added = (
    await teacher.courses.students.create({ courseId: fresh.id, requestBody: { userId: SECOND_STUDENT } })
  ).data;
  check(added.courseId === fresh.id && added.profile?.emailAddress === SECOND_STUDENT, 'a teacher adds a student');
  const got = (await teacher.courses.students.get({ courseId: fresh.id, userId: SECOND_STUDENT })).data;
  check(got.userId === added.userId, 'the added student reads back by email');
  await refused(
    () => teacher.courses.students.create({ courseId: fresh.id, requestBody: { userId: SECOND_STUDENT } }),
    { code: 409, status: 'ALREADY_EXISTS' },
    'adding the same student twice',
  );
  await teacher.courses.students.delete({ courseId: fresh.id, userId: SECOND_STUDENT });
  await refused(
    () => teacher.courses.students.get({ courseId: fresh.id, userId: SECOND_STUDENT }),
    { code: 404, status: 'NOT_FOUND' },
    'a removed student',
  );

  // An archived course refuses changes; unarchiving makes it changeable again.
  await teacher.courses.patch({ id: fresh.id, updateMask: 'courseState', requestBody: { courseState: 'ARCHIVED' } });
  await refused(
    () => teacher.courses.students.create({ courseId: fresh.id, requestBody: { userId: SECOND_STUDENT } }),
    { code: 400, status: 'FAILED_PRECONDITION', prefix: '@CourseNotModifiable' },
    'adding a student to an archived course',
  );
  await refused(
    () =>
      teacher.courses.courseWork.create({
        courseId: fresh.id,
        requestBody: { title: 'Too late', workType: 'ASSIGNMENT', state: 'PUBLISHED' },
      }),
    { code: 400, status: 'FAILED_PRECONDITION', prefix: '@CourseNotModifiable' },
    'coursework in an archived course',
  );
  await refused(
    () => teacher.courses.patch({ id: fresh.id, updateMask: 'room', requestBody: { room: 'B13' } }),
    { code: 400, status: 'FAILED_PRECONDITION', prefix: '@CourseNotModifiable' },
    'patching an archived course',
  );
  await teacher.courses.patch({ id: fresh.id, updateMask: 'courseState', requestBody: { courseState: 'ACTIVE' } });
  await teacher.courses.students.create({ courseId: fresh.id, requestBody: { userId: SECOND_STUDENT } });
  check(true, 'an unarchived course takes students again');

  // Coursework: create, read back, list by state.
  const work = (
    await teacher.courses.courseWork.create({
      courseId: MATH,
      requestBody: {
        title: 'Node-made worksheet',
        workType: 'ASSIGNMENT',
        state: 'PUBLISHED',
        maxPoints: 25,
        dueDate: { year: 2099, month: 6, day: 1 },
        dueTime: { hours: 12, minutes: 0 },
      },
    })
  ).data;
  check(work.id && work.creationTime && work.alternateLink, 'coursework gets an id, a timestamp and a link');
  const read = (await teacher.courses.courseWork.get({ courseId: MATH, id: work.id })).data;
  check(read.title === 'Node-made worksheet' && read.maxPoints === 25, 'coursework reads back');
  await refused(
    () =>
      teacher.courses.courseWork.create({
        courseId: MATH,
        requestBody: { title: 'Half a deadline', workType: 'ASSIGNMENT', dueDate: { year: 2099, month: 6, day: 1 } },
      }),
    { code: 400, status: 'INVALID_ARGUMENT' },
    'a dueDate without a dueTime',
  );
  const titles = async courseWorkStates =>
    ((await teacher.courses.courseWork.list({ courseId: MATH, courseWorkStates })).data.courseWork ?? []).map(
      w => w.title,
    );
  const published = await titles(undefined);
  check(
    published.includes('Node-made worksheet') && !published.includes('Algebra project (draft)'),
    'a list without courseWorkStates gives only PUBLISHED coursework, to teachers too',
  );
  check(published[0] === 'Node-made worksheet', 'coursework lists by updateTime desc when no orderBy is given');
  const both = await titles(['DRAFT', 'PUBLISHED']);
  check(
    both.includes('Algebra project (draft)') && both.length === published.length + 1,
    'courseWorkStates as a repeated parameter lists drafts too',
  );
  const studentView = (await student.courses.courseWork.list({ courseId: MATH })).data.courseWork ?? [];
  check(studentView.some(w => w.id === work.id), 'the student sees the published coursework');

  // Submissions: grade, turn in, return.
  const subs = (
    await teacher.courses.courseWork.studentSubmissions.list({ courseId: MATH, courseWorkId: work.id })
  ).data.studentSubmissions;
  check(subs?.length === 6, 'one submission per student');
  const mine = (
    await student.courses.courseWork.studentSubmissions.list({ courseId: MATH, courseWorkId: work.id, userId: 'me' })
  ).data.studentSubmissions;
  check(mine?.length === 1 && mine[0].state === 'CREATED', 'the student lists their own submission, CREATED');
  const sub = { courseId: MATH, courseWorkId: work.id, id: mine[0].id };
  await refused(
    () => student.courses.courseWork.studentSubmissions.reclaim(sub),
    { code: 400, status: 'FAILED_PRECONDITION' },
    'reclaiming a submission not turned in',
  );
  const graded = (
    await teacher.courses.courseWork.studentSubmissions.patch({
      ...sub,
      updateMask: 'draftGrade',
      requestBody: { draftGrade: 21.5 },
    })
  ).data;
  check(graded.draftGrade === 21.5, 'the teacher sets a draft grade');
  const seenByStudent = (await student.courses.courseWork.studentSubmissions.get(sub)).data;
  check(seenByStudent.id === sub.id && !('draftGrade' in seenByStudent), 'the student never sees the draft grade');
  const listedToStudent = (
    await student.courses.courseWork.studentSubmissions.list({ courseId: MATH, courseWorkId: work.id })
  ).data.studentSubmissions;
  check(
    listedToStudent?.length === 1 && !('draftGrade' in listedToStudent[0]),
    'a student\'s list holds only their submission, without the draft grade',
  );
  await refused(
    () =>
      student.courses.courseWork.studentSubmissions.patch({
        ...sub,
        updateMask: 'assignedGrade',
        requestBody: { assignedGrade: 25 },
      }),
    { code: 403, status: 'PERMISSION_DENIED' },
    'a student grading their own submission',
  );
  await student.courses.courseWork.studentSubmissions.turnIn(sub);
  check(
    (await teacher.courses.courseWork.studentSubmissions.get(sub)).data.state === 'TURNED_IN',
    'the student turns in',
  );
  await teacher.courses.courseWork.studentSubmissions.return(sub);
  const returned = (await teacher.courses.courseWork.studentSubmissions.get(sub)).data;
  check(returned.state === 'RETURNED', 'the teacher returns it');
  check(
    returned.draftGrade === 21.5 && returned.assignedGrade === undefined,
    'return does not copy the draft grade into the assigned grade',
  );
  const turnedIn = (
    await teacher.courses.courseWork.studentSubmissions.list({
      courseId: MATH,
      courseWorkId: '-',
      states: ['TURNED_IN'],
    })
  ).data.studentSubmissions ?? [];
  check(
    turnedIn.length > 0 && turnedIn.every(s => s.state === 'TURNED_IN'),
    'submissions across all coursework (courseWorkId "-") filter by state',
  );

  // Guardians: the domain administrator invites; the invitation names its student in the body.
  const guardians = (await admin.userProfiles.guardians.list({ studentId: STUDENT })).data.guardians ?? [];
  check(guardians.some(g => g.invitedEmailAddress === GUARDIAN), 'the student\'s guardian is listed');
  const invitation = (
    await admin.userProfiles.guardianInvitations.create({
      studentId: OTHER_STUDENT,
      requestBody: { studentId: OTHER_STUDENT, invitedEmailAddress: 'node.parent@family.example' },
    })
  ).data;
  check(invitation.state === 'PENDING' && invitation.invitationId, 'a guardian invitation is PENDING');
  await refused(
    () =>
      admin.userProfiles.guardianInvitations.create({
        studentId: OTHER_STUDENT,
        requestBody: { studentId: OTHER_STUDENT, invitedEmailAddress: 'node.parent@family.example' },
      }),
    { code: 409, status: 'ALREADY_EXISTS' },
    'a second invitation to the same address',
  );
  await refused(
    () =>
      admin.userProfiles.guardianInvitations.create({
        studentId: OTHER_STUDENT,
        requestBody: { invitedEmailAddress: 'other.parent@family.example' },
      }),
    { code: 400, status: 'INVALID_ARGUMENT' },
    'a guardian invitation without studentId in the body',
  );
  const pending = (
    await admin.userProfiles.guardianInvitations.list({ studentId: OTHER_STUDENT, states: ['PENDING'] })
  ).data.guardianInvitations ?? [];
  check(pending.some(i => i.invitationId === invitation.invitationId), 'the invitation lists as PENDING');

  // Scope: a read-only token cannot create; the server says why.
  const readonly = api(await clientCredentialsToken(emulator, ['courses.readonly']));
  await readonly.courses.list({ pageSize: 1 });
  await refused(
    () => readonly.courses.create({ requestBody: { name: 'Nope', ownerId: 'me' } }),
    { code: 403, status: 'PERMISSION_DENIED', reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT' },
    'a read-only token creating a course',
  );
  await refused(
    () => student.courses.students.list({ courseId: MATH }),
    { code: 403, status: 'PERMISSION_DENIED', reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT' },
    'a student token without a rosters scope listing students',
  );

  // Refresh: an expired access token is renewed by google-auth-library through the
  // emulator's token endpoint with the refresh token, and the call goes through.
  const oldToken = teacherAuth.credentials.access_token;
  const renewed = new Promise(resolve => teacherAuth.once('tokens', resolve));
  teacherAuth.setCredentials({ ...teacherAuth.credentials, expiry_date: Date.now() - 1000 });
  const again = (await teacher.courses.get({ id: MATH })).data;
  const tokens = await Promise.race([
    renewed,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no refresh within 10 s')), 10_000).unref()),
  ]);
  check(
    again.id === before.id && tokens.access_token && tokens.access_token !== oldToken,
    'an expired token is refreshed through the token endpoint',
  );

  console.log('third-party client: all checks passed');
}

async function main() {
  // A hung call fails the run instead of hanging the test that runs it.
  setTimeout(() => {
    console.error('third-party client: no result after 120 s');
    process.exit(1);
  }, 120_000).unref();
  const at = process.argv.indexOf('--line');
  if (at > 0) {
    if (!process.argv[at + 1]) throw new Error('--line needs the line the emulator example prints');
    return run(parseLine(process.argv[at + 1]));
  }
  const emulator = spawn('cargo', ['run', '--quiet', '--example', 'emulator', '--', '--port', '0'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: emulator.stdout });
    const [line] = await Promise.race([
      new Promise(resolve => lines.once('line', l => resolve([l]))),
      new Promise((_, reject) => emulator.once('exit', code => reject(new Error(`the emulator exited (${code})`)))),
    ]);
    lines.close();
    await run(parseLine(line));
  } finally {
    emulator.kill();
  }
}

main().catch(error => {
  console.error(error?.stack ?? error);
  process.exit(1);
});
