// A third-party OAuth 2.0 server for the auth tests: node's oidc-provider, in memory, on
// 127.0.0.1 at a free port. It prints `listening <issuer>` once ready.
//
// One confidential client may use authorization_code (PKCE required), refresh_token and
// client_credentials. Consent is scripted: /interaction/:uid logs in `student-1` and grants
// the requested scopes at once, so a test can play the browser by following redirects.
import http from 'node:http';
import Provider from 'oidc-provider';

const SCOPES = [
  'https://www.googleapis.com/auth/classroom.courses',
  'https://www.googleapis.com/auth/classroom.courses.readonly',
  'https://www.googleapis.com/auth/classroom.rosters.readonly',
];
const RESOURCE = 'https://classroom.googleapis.com/';
const ACCOUNT = 'student-1';
// Access token lifetime in seconds; the tests vary it to check the token cache.
const ACCESS_TOKEN_TTL = Number(process.env.ACCESS_TOKEN_TTL || 3600);

let provider;
const server = http.createServer(async (req, res) => {
  try {
    const interaction = req.url.match(/^\/interaction\/[^/?]+/);
    if (!interaction) return provider.callback()(req, res);
    const { params } = await provider.interactionDetails(req, res);
    const requested = String(params.scope || '').split(' ');
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId: params.client_id });
    // Without a `resource` parameter oidc-provider files every requested scope under the
    // provider itself; grant them there and for the Classroom resource alike.
    grant.addOIDCScope(requested.join(' '));
    grant.addResourceScope(RESOURCE, requested.filter((s) => SCOPES.includes(s)).join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: ACCOUNT }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
});

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'classroom-sdk-test',
        client_secret: 'classroom-sdk-test-secret-0123456789',
        application_type: 'native',
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        // Native loopback redirects match on any port (RFC 8252 §7.3).
        redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1/'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    scopes: ['openid', 'offline_access', ...SCOPES],
    cookies: { keys: ['test-only-cookie-key'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: SCOPES.join(' '),
          accessTokenFormat: 'opaque',
          accessTokenTTL: ACCESS_TOKEN_TTL,
        }),
      },
    },
  });
  console.log(`listening ${issuer}`);
});

process.on('SIGTERM', () => process.exit(0));
process.stdout.on('error', () => {});
