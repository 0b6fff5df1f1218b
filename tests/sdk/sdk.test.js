// The quickstart driven through the real @directus/sdk, exactly as its documentation shows,
// against the local stack. Run by the Rust end-to-end suite (tests/sdk_client.rs), which starts
// the stack and passes its URL in API_URL.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
	aggregate,
	authentication,
	createDirectus,
	createUser,
	deleteUser,
	graphql,
	readItems,
	readMe,
	readUser,
	readUsers,
	registerUser,
	rest,
	serverHealth,
	serverInfo,
	serverPing,
	staticToken,
	updateMe,
	updateUser,
	withToken,
} from '@directus/sdk';

const API = process.env.API_URL;
if (!API) throw new Error('API_URL must point at the local stack (tests/sdk_client.rs sets it)');

const PASSWORD = 'd1r3ctu5';
// An administrator the Rust side created with the operator tool's code path.
const ADMIN_EMAIL = process.env.ADMIN_EMAIL;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;

// The SDK schedules its automatic refresh with a timer; stop them so the process can end.
const authenticated = [];
after(() => authenticated.forEach((client) => client.stopRefreshing()));

/** createDirectus(...).with(authentication(...)).with(rest(...)), remembered for cleanup. */
function authClient(mode, options = {}, clientOptions = {}, restOptions = {}) {
	const client = createDirectus(API, clientOptions)
		.with(mode === undefined ? authentication() : authentication(mode, options))
		.with(rest(restOptions));
	authenticated.push(client);
	return client;
}
const uniqueEmail = (tag) => `${tag}-${randomUUID()}@example.com`;

// A browser keeps the httpOnly refresh cookie; Node's fetch does not, so give the SDK a fetch
// with a cookie jar, as a browser would behave.
function browserLikeFetch() {
	const jar = new Map();
	return async (url, init = {}) => {
		const headers = new Headers(init.headers);
		if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
		const response = await fetch(url, { ...init, headers });
		for (const cookie of response.headers.getSetCookie()) {
			const [pair, ...attributes] = cookie.split(';');
			const [name, value] = pair.split('=');
			const expired = attributes.some((a) => a.trim().toLowerCase() === 'max-age=0');
			if (expired || value === '') jar.delete(name.trim());
			else jar.set(name.trim(), value);
		}
		return response;
	};
}

/** A 204: SDK 18 resolves with the bare Response, newer releases with null. */
function assertEmpty(result, what) {
	assert.ok(result === null || result?.status === 204, `${what} answered 204 with no body`);
}

async function registered(tag) {
	const email = uniqueEmail(tag);
	const client = createDirectus(API).with(rest());
	const result = await client.request(registerUser(email, PASSWORD));
	assertEmpty(result, 'registerUser');
	return email;
}

/** The Directus error code an SDK user reads from a rejected request. */
async function errorCode(promise) {
	try {
		await promise;
	} catch (error) {
		return error?.errors?.[0]?.extensions?.code;
	}
	assert.fail('the request was expected to fail');
}

test('registerUser, json login, and readItems with fields, filter, sort and limit', async () => {
	const email = await registered('sdk-json');
	const client = authClient('json');
	const auth = await client.login(email, PASSWORD);
	assert.equal(auth.expires, 900000);
	assert.equal(typeof auth.access_token, 'string');
	assert.equal(auth.refresh_token.length, 64);

	const posts = await client.request(
		readItems('posts', {
			fields: ['id', 'title'],
			filter: { id: { _eq: 1 } },
			sort: ['-id'],
			limit: 5,
		}),
	);
	assert.deepEqual(posts.map((post) => Object.keys(post)), [['id', 'title']]);
	assert.equal(posts[0].id, 1);

	const none = await client.request(readItems('posts', { filter: { id: { _gt: 1 } } }));
	assert.deepEqual(none, []);
});

test('cookie mode, the SDK default: login, refresh and logout through the httpOnly cookie', async () => {
	const email = await registered('sdk-cookie');
	// authentication() with no argument: cookie mode, the SDK's default.
	const client = authClient(undefined, {}, { globals: { fetch: browserLikeFetch() } }, { credentials: 'include' });
	const auth = await client.login(email, PASSWORD);
	assert.equal(auth.refresh_token, undefined, 'the refresh token stays in the cookie');
	const before = await client.getToken();

	const refreshed = await client.refresh();
	assert.notEqual(refreshed.access_token, undefined);
	assert.equal((await client.request(readItems('posts'))).length, 1);

	await client.logout();
	assert.equal(await errorCode(client.refresh()), 'INVALID_PAYLOAD', 'the cookie is gone');
	assert.ok(before);
});

test('the SDK refreshes on its own when the access token is about to expire', async () => {
	const email = await registered('sdk-auto');
	// Treat every token as expiring: with a 15-minute lifetime, refreshing "900.5 s before
	// expiry" means before every request, so no test waits for a clock.
	let stored = null;
	const storage = { get: async () => stored, set: async (value) => { stored = value; } };
	const client = authClient('json', { msRefreshBeforeExpires: 900_500, storage });
	const first = await client.login(email, PASSWORD);
	const posts = await client.request(readItems('posts'));
	assert.equal(posts.length, 1);
	assert.notEqual(stored.refresh_token, first.refresh_token, 'the SDK refreshed before the read');
	assert.equal(stored.refresh_token.length, 64);
});

test('explicit refresh and logout in json mode', async () => {
	const email = await registered('sdk-refresh');
	const client = authClient('json', { autoRefresh: false });
	const first = await client.login(email, PASSWORD);
	const second = await client.refresh();
	assert.notEqual(second.refresh_token, first.refresh_token);
	await client.logout();
	const stale = await fetch(`${API}/auth/refresh`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ refresh_token: second.refresh_token }),
	});
	assert.equal(stale.status, 401, 'logout ended the session');
});

test('errors reach SDK users as errors[0].extensions.code', async () => {
	const email = await registered('sdk-errors');
	const client = authClient('json');
	assert.equal(await errorCode(client.login(email, 'not-the-password')), 'INVALID_CREDENTIALS');
	const anonymous = createDirectus(API).with(rest());
	assert.equal(await errorCode(anonymous.request(readItems('posts'))), 'FORBIDDEN');
	await client.login(email, PASSWORD);
	assert.equal(await errorCode(client.request(readItems('no_such_collection'))), 'FORBIDDEN');
	assert.equal(
		await errorCode(client.request(readItems('posts', { fields: ['secret'] }))),
		'FORBIDDEN',
	);
});

test('createUser as the public (seed 001), then login and read', async () => {
	const email = uniqueEmail('sdk-public-create');
	const anonymous = createDirectus(API).with(rest());
	const created = await anonymous.request(createUser({ email, password: PASSWORD }));
	assertEmpty(created, 'createUser as the public (it may create but not read users)');
	assert.equal(
		await errorCode(anonymous.request(createUser({ email: uniqueEmail('x'), password: PASSWORD, role: 'admin' }))),
		'FORBIDDEN',
	);
	const client = authClient('json');
	await client.login(email, PASSWORD);
	assert.equal((await client.request(readItems('posts'))).length, 1);
});

test('serverPing, serverInfo and serverHealth, public and logged in', async () => {
	const anonymous = createDirectus(API).with(rest());
	assert.equal(await anonymous.request(serverPing()), 'pong');
	const publicInfo = await anonymous.request(serverInfo());
	assert.deepEqual(Object.keys(publicInfo), ['project']);
	assert.equal(publicInfo.project.project_name, 'Directus');
	assert.deepEqual(await anonymous.request(serverHealth()), { status: 'ok' });

	const email = await registered('sdk-server');
	const client = authClient('json');
	await client.login(email, PASSWORD);
	const info = await client.request(serverInfo());
	assert.equal(info.version, '11.3.5');
	assert.deepEqual(info.queryLimit, { default: 100, max: 1000 });
	assert.deepEqual(await client.request(serverHealth()), { status: 'ok' });
});

test('readUsers, readUser, updateUser and deleteUser as an administrator', async () => {
	const email = await registered('sdk-directory');
	const admin = authClient('json');
	await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);

	const [listed] = await admin.request(
		readUsers({ filter: { email: { _eq: email } }, fields: ['id', 'email', 'password', 'status'] }),
	);
	assert.deepEqual(Object.keys(listed), ['id', 'email', 'password', 'status']);
	assert.equal(listed.password, '**********');
	assert.equal(listed.status, 'active');

	const one = await admin.request(readUser(listed.id, { fields: ['email'] }));
	assert.deepEqual(one, { email });

	const updated = await admin.request(updateUser(listed.id, { first_name: 'Sdk', status: 'suspended' }));
	assert.equal(updated.first_name, 'Sdk');
	assert.equal(updated.status, 'suspended');
	const suspended = authClient('json');
	assert.equal(await errorCode(suspended.login(email, PASSWORD)), 'INVALID_CREDENTIALS');

	const deleted = await admin.request(deleteUser(listed.id));
	assertEmpty(deleted, 'deleteUser');
	assert.equal(await errorCode(admin.request(readUser(listed.id))), 'FORBIDDEN');
	// A registered user's "Own profile" policy reads their own row only, and not every field.
	const userEmail = await registered('sdk-directory-user');
	const user = authClient('json');
	await user.login(userEmail, PASSWORD);
	assert.deepEqual(
		(await user.request(readUsers())).map((row) => row.email),
		[userEmail],
	);
	assert.equal(await errorCode(user.request(readUsers({ fields: ['password'] }))), 'FORBIDDEN');
});

test('aggregate: count, sum and groupBy', async () => {
	const admin = authClient('json');
	await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
	const [counted] = await admin.request(aggregate('posts', { aggregate: { count: '*' } }));
	assert.equal(Number(counted.count), 1);
	const [summed] = await admin.request(aggregate('posts', { aggregate: { sum: ['id'], count: ['title'] } }));
	assert.deepEqual(summed, { sum: { id: 1 }, count: { title: 1 } });
	const grouped = await admin.request(
		aggregate('posts', { aggregate: { count: '*' }, groupBy: ['title'], query: { filter: { id: { _eq: 1 } } } }),
	);
	assert.deepEqual(grouped, [{ title: 'Hello from the quickstart', count: 1 }]);
	const users = await admin.request(aggregate('directus_users', { aggregate: { count: '*' } }));
	assert.ok(Number(users[0].count) >= 1);
	const anonymous = createDirectus(API).with(rest());
	assert.equal(await errorCode(anonymous.request(aggregate('posts', { aggregate: { count: '*' } }))), 'FORBIDDEN');
});

test('readMe and updateMe under the own-profile permissions', async () => {
	const email = await registered('sdk-me');
	const client = authClient('json');
	await client.login(email, PASSWORD);
	const me = await client.request(readMe({ fields: ['id', 'email', 'first_name'] }));
	assert.deepEqual(Object.keys(me), ['id', 'email', 'first_name']);
	assert.equal(me.email, email);
	assert.equal(me.first_name, null);
	const updated = await client.request(
		updateMe({ first_name: 'Ada', last_name: 'Lovelace' }, { fields: ['first_name', 'last_name'] }),
	);
	assert.deepEqual(updated, { first_name: 'Ada', last_name: 'Lovelace' });
	assert.equal((await client.request(readMe())).first_name, 'Ada');
	// Fields outside the update permission are refused, and nothing is written.
	assert.equal(await errorCode(client.request(updateMe({ status: 'suspended' }))), 'FORBIDDEN');
	assert.equal((await client.request(readMe({ fields: ['status'] }))).status, 'active');
	// The public has no "me".
	const anonymous = createDirectus(API).with(rest());
	assert.equal(await errorCode(anonymous.request(readMe())), 'INVALID_CREDENTIALS');
});

test("authentication('session'): login, read, refresh and logout through the session cookie", async () => {
	const email = await registered('sdk-session');
	const client = authClient(
		'session',
		{ credentials: 'include' },
		{ globals: { fetch: browserLikeFetch() } },
		{ credentials: 'include' },
	);
	const auth = await client.login(email, PASSWORD);
	assert.equal(auth.expires, 86_400_000);
	assert.equal(auth.access_token ?? null, null, 'the access token stays in the httpOnly cookie');
	assert.equal(auth.refresh_token ?? null, null);
	assert.equal(await client.getToken(), null);

	assert.equal((await client.request(readMe())).email, email);
	assert.equal((await client.request(readItems('posts'))).length, 1);
	const refreshed = await client.refresh();
	assert.equal(refreshed.expires, 86_400_000);
	assert.equal((await client.request(readMe({ fields: ['email'] }))).email, email);

	await client.logout();
	// The cookie was cleared: the next request is the public's.
	assert.equal(await errorCode(client.request(readMe())), 'INVALID_CREDENTIALS');
});

test('a static request with withToken', async () => {
	const email = await registered('sdk-static');
	const { access_token } = await authClient('json').login(email, PASSWORD);
	const plain = createDirectus(API).with(rest());
	const me = await plain.request(withToken(access_token, readMe({ fields: ['email'] })));
	assert.deepEqual(me, { email });
	const posts = await plain.request(withToken(access_token, readItems('posts')));
	assert.equal(posts.length, 1);
	assert.equal(await errorCode(plain.request(withToken('not-a-token', readMe()))), 'INVALID_CREDENTIALS');
});

test('graphql() on the system scope: register, login, refresh, logout and users_me', async () => {
	const client = createDirectus(API).with(graphql());
	const email = uniqueEmail('sdk-gql');
	const registered = await client.query(
		`mutation { users_register(email: "${email}", password: "${PASSWORD}") }`,
		undefined,
		'system',
	);
	assert.deepEqual(registered, { users_register: true });

	const { auth_login: login } = await client.query(
		'mutation Login($email: String!, $password: String!) { auth_login(email: $email, password: $password) { access_token refresh_token expires } }',
		{ email, password: PASSWORD },
		'system',
	);
	assert.equal(login.expires, '900000');
	assert.equal(typeof login.access_token, 'string');

	const signedIn = createDirectus(API).with(staticToken(login.access_token)).with(graphql());
	const { users_me: me } = await signedIn.query('{ users_me { id email } }', undefined, 'system');
	assert.equal(me.email, email);

	const { auth_refresh: refreshed } = await client.query(
		'mutation Refresh($token: String) { auth_refresh(refresh_token: $token) { access_token refresh_token } }',
		{ token: login.refresh_token },
		'system',
	);
	assert.notEqual(refreshed.refresh_token, login.refresh_token);

	const loggedOut = await client.query(
		'mutation Logout($token: String) { auth_logout(refresh_token: $token) }',
		{ token: refreshed.refresh_token },
		'system',
	);
	assert.deepEqual(loggedOut, { auth_logout: true });

	// In-band errors reject, as the SDK does for any body with `errors`.
	await assert.rejects(
		client.query(
			'mutation Refresh($token: String) { auth_refresh(refresh_token: $token) { access_token } }',
			{ token: refreshed.refresh_token },
			'system',
		),
		(error) => error.errors?.[0]?.extensions?.code === 'INVALID_CREDENTIALS',
	);
});

test("graphql(): client.query on the items scope with filter, sort, limit and variables", async () => {
	const email = await registered('sdk-graphql');
	const client = createDirectus(API).with(authentication('json')).with(graphql());
	authenticated.push(client);
	await client.login(email, PASSWORD);

	// The seed's query, as the SDK sends it (POST /graphql, no operationName).
	const seed = await client.query('query { posts { id title content } }');
	assert.equal(seed.posts.length, 1);
	assert.equal(seed.posts[0].id, '1');

	const filtered = await client.query(
		`query Posts($limit: Int, $filter: posts_filter) {
			posts(filter: $filter, sort: ["-id"], limit: $limit) { id title }
		}`,
		{ limit: 5, filter: { id: { _eq: 1 } } },
	);
	assert.deepEqual(filtered.posts.map((post) => Object.keys(post)), [['id', 'title']]);
	const none = await client.query('query($f: posts_filter) { posts(filter: $f) { id } }', { f: { id: { _gt: 1 } } });
	assert.deepEqual(none.posts, []);

	// The SDK throws on any `errors`, in-band ones included.
	await assert.rejects(client.query('{ posts(limit: -5) { id } }'), (error) => {
		assert.equal(error.errors[0].extensions.code, 'INVALID_QUERY');
		return true;
	});
	await assert.rejects(client.query('{ posts { nope } }'), (error) => {
		assert.equal(error.errors[0].extensions.code, 'GRAPHQL_VALIDATION');
		assert.equal(error.response.status, 400);
		return true;
	});
	// The public has no `posts` in its schema.
	const publicClient = createDirectus(API).with(graphql());
	await assert.rejects(publicClient.query('{ posts { id } }'), (error) => {
		assert.equal(
			error.errors[0].extensions.errors[0].message,
			'Cannot query field "posts" on type "Query".',
		);
		return true;
	});
});
