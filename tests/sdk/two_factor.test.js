// Two-factor sign-in through the real @directus/sdk: generateTwoFactorSecret, enableTwoFactor
// and disableTwoFactor (rest composable) and client.login(email, password, { otp })
// (authentication composable), the codes computed here as an authenticator app computes them.
// Run by tests/sdk_client.rs, which passes the stack's URL, an administrator, and TFA_ROLE: a
// role whose users may update their own tfa_secret (what enabling needs, as in Directus).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import {
	authentication,
	createDirectus,
	createUser,
	disableTwoFactor,
	enableTwoFactor,
	generateTwoFactorSecret,
	readMe,
	rest,
} from '@directus/sdk';

const API = process.env.API_URL;
const ADMIN_EMAIL = process.env.ADMIN_EMAIL;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const TFA_ROLE = process.env.TFA_ROLE;
if (!API || !TFA_ROLE) throw new Error('API_URL and TFA_ROLE come from tests/sdk_client.rs');

const PASSWORD = 'd1r3ctu5-second-factor';
const STEP_SECS = 30;

const clients = [];
after(() => clients.forEach((client) => client.stopRefreshing()));
function jsonClient() {
	const client = createDirectus(API).with(authentication('json')).with(rest());
	clients.push(client);
	return client;
}

/** RFC 4648 base32 (no padding), as /users/me/tfa/generate shows the secret. */
function base32Decode(text) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	const bytes = [];
	let value = 0;
	let bits = 0;
	for (const char of text.replace(/=+$/, '').toUpperCase()) {
		const index = alphabet.indexOf(char);
		if (index < 0) throw new Error(`not base32: ${char}`);
		value = ((value << 5) | index) & 0xffff;
		bits += 5;
		if (bits >= 8) {
			bytes.push((value >>> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(bytes);
}

/** The RFC 6238 code of `step` (HMAC-SHA1, 30 s steps, 6 digits), as authenticator apps make it. */
function totp(secret, step) {
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(step));
	const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
	const offset = mac[mac.length - 1] & 0x0f;
	return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** The current step, once at least `margin` seconds of it are left. */
async function stepWith(margin) {
	for (;;) {
		const now = Date.now() / 1000;
		if (STEP_SECS - (now % STEP_SECS) >= margin) return Math.floor(now / STEP_SECS);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

async function errorCode(promise) {
	try {
		await promise;
	} catch (error) {
		return error?.errors?.[0]?.extensions?.code;
	}
	assert.fail('the request was expected to fail');
}

test('the TOTP helper gives the RFC 6238 test vector', () => {
	// RFC 6238 appendix B, SHA1, T = 59 s (step 1): 94287082, of which 6 digits.
	assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082');
});

test('generateTwoFactorSecret, enableTwoFactor, login with { otp } and disableTwoFactor', async () => {
	const admin = jsonClient();
	await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
	const email = `sdk-tfa-${randomUUID()}@example.com`;
	await admin.request(createUser({ email, password: PASSWORD, role: TFA_ROLE }));

	const client = jsonClient();
	await client.login(email, PASSWORD);
	assert.equal(await errorCode(client.request(generateTwoFactorSecret('not-the-password'))), 'INVALID_CREDENTIALS');
	const { secret, otpauth_url } = await client.request(generateTwoFactorSecret(PASSWORD));
	assert.match(secret, /^[A-Z2-7]{32}$/);
	assert.ok(otpauth_url.startsWith('otpauth://totp/'), otpauth_url);
	assert.ok(otpauth_url.includes(`secret=${secret}&`), otpauth_url);

	// The previous step's code (one step of drift): the next two stay free for what follows.
	const step = await stepWith(15);
	assert.equal(await errorCode(client.request(enableTwoFactor(secret, '12345'))), 'INVALID_PAYLOAD');
	const enabled = await client.request(enableTwoFactor(secret, totp(secret, step - 1)));
	// Directus answers 204; this API shows the recovery codes once, and the SDK resolves with them.
	assert.deepEqual(Object.keys(enabled), ['recovery_codes']);
	assert.equal(enabled.recovery_codes.length, 10);
	assert.equal(new Set(enabled.recovery_codes).size, 10);
	assert.equal((await client.request(readMe({ fields: ['tfa_secret'] }))).tfa_secret, '**********');

	assert.equal(await errorCode(jsonClient().login(email, PASSWORD)), 'INVALID_OTP');
	assert.equal(await errorCode(jsonClient().login(email, PASSWORD, { otp: '000000x' })), 'INVALID_OTP');
	const signedIn = await jsonClient().login(email, PASSWORD, { otp: totp(secret, step) });
	assert.equal(typeof signedIn.access_token, 'string');
	// The same code again: spent.
	assert.equal(await errorCode(jsonClient().login(email, PASSWORD, { otp: totp(secret, step) })), 'INVALID_OTP');
	const byRecovery = await jsonClient().login(email, PASSWORD, { otp: enabled.recovery_codes[0] });
	assert.equal(typeof byRecovery.access_token, 'string');

	assert.equal(await errorCode(client.request(disableTwoFactor('12345'))), 'INVALID_PAYLOAD');
	const disabled = await client.request(disableTwoFactor(totp(secret, step + 1)));
	// A 204: SDK 18 resolves with the bare Response, newer releases with null.
	assert.ok(disabled === null || disabled?.status === 204, 'disableTwoFactor answered 204');
	assert.equal((await client.request(readMe({ fields: ['tfa_secret'] }))).tfa_secret, null);
	const plain = await jsonClient().login(email, PASSWORD);
	assert.equal(typeof plain.access_token, 'string');
});
