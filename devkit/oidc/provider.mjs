// The city's OpenID Connect provider, for Skolit's tests and `make run`: panva's oidc-provider (a certified
// implementation), configured the way a city IdP serves Skolit. Nothing here is a mock: the code flow with PKCE,
// the login and consent interactions, the JWKS and the JWT access tokens are the library's own.
//
//   node devkit/oidc/provider.mjs --issuer http://127.0.0.1:8110 --port 8110 --users users.json
//
// Options (or environment): --issuer (OIDC_ISSUER), --port (OIDC_PORT, default: the issuer's port),
// --users (OIDC_USERS: a JSON file, read at every sign-in), --redirect-uri (OIDC_REDIRECT_URIS, comma-separated; repeatable).
//
// The users file: {"<login>": {"sub": "<SS 12000 person id>", "password": "...", "groups": ["skolit-it"], "name": "..."}}
// (or a list of objects with a "login" field). The subject of every token is the person id.
//
// Access tokens: JWTs for the resource indicator urn:skolit:api (audience "skolit", signed RS256) or
// urn:skolit:api:es256 (the same audience, signed ES256); both keys are in the JWKS. The token carries the
// user's "groups" (and "name"): Skolit derives administrative roles from groups, everything else from the city's data.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    port: { type: 'string' },
    users: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
  },
});

const issuer = (args.issuer || process.env.OIDC_ISSUER || 'http://127.0.0.1:8110').replace(/\/$/, '');
const port = Number(args.port || process.env.OIDC_PORT || new URL(issuer).port || 8110);
const usersFile = args.users || process.env.OIDC_USERS;
const redirectUris = [
  ...(args['redirect-uri'] || []),
  ...(process.env.OIDC_REDIRECT_URIS || '').split(',').map((s) => s.trim()).filter(Boolean),
];
if (redirectUris.length === 0) redirectUris.push('http://127.0.0.1:8765/callback', 'http://localhost:3000/callback');

export const AUDIENCE = process.env.OIDC_AUDIENCE || 'skolit';
export const RESOURCES = {
  'urn:skolit:api': 'RS256',
  'urn:skolit:api:es256': 'ES256',
};

function loadUsers(path) {
  if (!path) return new Map();
  const raw = JSON.parse(readFileSync(path, 'utf8'));
  const entries = Array.isArray(raw) ? raw.map((u) => [u.login, u]) : Object.entries(raw);
  const users = new Map();
  for (const [login, user] of entries) {
    if (!login || !user.sub || typeof user.password !== 'string') throw new Error(`user ${login}: needs sub and password`);
    users.set(login, { login, sub: String(user.sub), password: user.password, groups: user.groups || [], name: user.name });
  }
  return users;
}

// Read at every sign-in (a small file), so a test can register people while the provider runs.
function directory() {
  const users = loadUsers(usersFile);
  return { users, bySub: new Map([...users.values()].map((u) => [u.sub, u])) };
}
const byLogin = (login) => directory().users.get(login);
const bySub = (sub) => directory().bySub.get(sub);

async function signingKeys() {
  // Fresh keys per start: tokens of an earlier run stop verifying, as after a key rotation at the city.
  const keys = [];
  const run = randomBytes(4).toString('hex'); // a new kid per start: verifiers refetch the JWKS for an unknown kid
  for (const [alg, kid] of [['RS256', `skolit-dev-rs256-${run}`], ['ES256', `skolit-dev-es256-${run}`]]) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), kid, alg, use: 'sig' });
  }
  return keys;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function page(title, body) {
  return `<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

const configuration = {
  clients: [
    {
      // The web and mobile apps: public clients, authorization code with PKCE.
      client_id: 'skolit-web',
      client_name: 'Skolit',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
    },
  ],
  pkce: { required: () => true },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  jwks: { keys: await signingKeys() },
  claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'offline_access', 'profile', 'groups', 'api'],
  async findAccount(_ctx, sub) {
    const user = bySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, groups: user.groups, ...(user.name ? { name: user.name } : {}) };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:skolit:api',
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, resource) {
        const alg = RESOURCES[resource];
        if (!alg) throw new Provider.errors.InvalidTarget(`unknown resource ${resource}`);
        return { scope: 'api', audience: AUDIENCE, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
      },
    },
  },
  async extraTokenClaims(_ctx, token) {
    // The access token is what Skolit reads: the groups (administrative roles) and the display name go in it.
    if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
    const user = bySub(token.accountId);
    if (!user) return undefined;
    return { groups: user.groups, ...(user.name ? { name: user.name } : {}) };
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600, IdToken: 3600 },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Fel vid inloggning', `<pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// --- the interaction routes: a login form and a consent step, our own, small -----------------------------

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

// login_hint (the web app's development sign-in page passes the persona's login) fills in the user name.
function loginForm(uid, message = '', hint = '') {
  return page('Logga in i Skolit', `${message ? `<p role="alert">${escape(message)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
      <label>Användarnamn <input name="login" required value="${escape(hint)}"${hint ? '' : ' autofocus'}></label>
      <label>Lösenord <input name="password" type="password" required${hint ? ' autofocus' : ''}></label>
      <button type="submit">Logga in</button>
    </form>`);
}

function consentForm(uid, client, details) {
  const scopes = [...(details.missingOIDCScope || []), ...Object.values(details.missingResourceScopes || {}).flat()];
  return page(`${client?.clientName || client?.clientId} vill använda ditt konto`, `
    <p>Behörigheter: ${escape(scopes.join(', ') || 'inga nya')}</p>
    <form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Godkänn</button></form>
    <form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Avbryt</button></form>`);
}

async function grantFor(details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) grant.addResourceScope(indicator, scopes.join(' '));
  return grant.save();
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Fel', '<p>Inloggningen hör till en annan session.</p>'));
  const { prompt } = details;
  if (req.method === 'GET') {
    if (prompt.name === 'login') return send(res, 200, loginForm(uid, '', details.params.login_hint || ''));
    const client = await provider.Client.find(details.params.client_id);
    return send(res, 200, consentForm(uid, client, prompt.details));
  }
  if (action === 'login') {
    const form = await readForm(req);
    const user = byLogin(form.get('login') || '');
    if (!user || user.password !== form.get('password')) return send(res, 401, loginForm(uid, 'Fel användarnamn eller lösenord.'));
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    if (prompt.name !== 'consent') return send(res, 400, page('Fel', '<p>Inget att godkänna.</p>'));
    return provider.interactionFinished(req, res, { consent: { grantId: await grantFor(details) } }, { mergeWithLastSubmission: true });
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' },
      { mergeWithLastSubmission: false });
  }
  return send(res, 404, page('Fel', '<p>Okänd åtgärd.</p>'));
}

const callback = provider.callback();
const ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/;

const server = createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const match = ROUTE.exec(path);
  if (!match) return callback(req, res);
  const [, uid, action] = match;
  if ((req.method === 'GET') !== (action === undefined) || !['GET', 'POST'].includes(req.method)) {
    return send(res, 405, page('Fel', '<p>Metoden stöds inte.</p>'));
  }
  try {
    await interaction(req, res, uid, action);
  } catch (err) {
    if (!res.headersSent) send(res, 400, page('Fel vid inloggning', `<p>${escape(err.message || err)}</p>`));
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer} (port ${port}; ${directory().users.size} users; audience ${AUDIENCE})`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
