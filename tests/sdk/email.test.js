// Email verification and password reset through the real @directus/sdk: registerUser,
// registerUserVerify, passwordRequest and passwordReset against the tests' mail stack
// (verification on), reading the links from the local inbox (maildev) as a user would.
// Run by tests/sdk_client.rs, which passes MAIL_API_URL, INBOX_URL and RESET_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
	authentication,
	createDirectus,
	passwordRequest,
	passwordReset,
	readMe,
	registerUser,
	registerUserVerify,
	rest,
} from '@directus/sdk';

const API = process.env.MAIL_API_URL;
const INBOX = process.env.INBOX_URL;
const RESET_URL = process.env.RESET_URL;
if (!API || !INBOX || !RESET_URL) {
	throw new Error('MAIL_API_URL, INBOX_URL and RESET_URL must be set (tests/sdk_client.rs sets them)');
}

const uniqueEmail = (tag) => `${tag}-${randomUUID()}@example.com`;

/** The messages to `address`, waiting (at most 20 s) until there are `count`. */
async function messages(address, count) {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const url = new URL('/api/email', INBOX);
		url.searchParams.set('to.address', address);
		const list = await (await fetch(url)).json();
		if (list.length >= count || Date.now() > deadline) {
			assert.equal(list.length, count, `messages to ${address}`);
			return list;
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** The token of the one link in a message's text part. */
function tokenOf(message) {
	const links = message.text.split(/\s+/).filter((w) => /^https?:\/\//.test(w));
	assert.equal(links.length, 1, message.text);
	return new URL(links[0]).searchParams.get('token');
}

async function loginWorks(email, password) {
	const client = createDirectus(API).with(authentication('json')).with(rest());
	try {
		await client.login(email, password);
		const me = await client.request(readMe({ fields: ['id'] }));
		assert.ok(me.id);
		return true;
	} catch (error) {
		assert.equal(error.errors?.[0]?.extensions?.code, 'INVALID_CREDENTIALS', JSON.stringify(error.errors));
		return false;
	} finally {
		client.stopRefreshing();
	}
}

test('registerUser mails a link whose token registerUserVerify accepts once', async () => {
	const client = createDirectus(API).with(rest());
	const email = uniqueEmail('sdk-verify');
	await client.request(registerUser(email, 'd1r3ctu5-sdk'));
	assert.equal(await loginWorks(email, 'd1r3ctu5-sdk'), false);
	const [mail] = await messages(email, 1);
	assert.equal(mail.subject, 'Verify your email address');
	const token = tokenOf(mail);
	await client.request(registerUserVerify(token));
	assert.equal(await loginWorks(email, 'd1r3ctu5-sdk'), true);
	await assert.rejects(client.request(registerUserVerify(token)), (error) => {
		assert.equal(error.errors[0].message, 'Invalid payload. Invalid verification code.');
		return true;
	});
});

test('passwordRequest mails a reset link whose token passwordReset spends once', async () => {
	const client = createDirectus(API).with(rest());
	const email = uniqueEmail('sdk-reset');
	await client.request(registerUser(email, 'd1r3ctu5-sdk'));
	await client.request(registerUserVerify(tokenOf((await messages(email, 1))[0])));
	await client.request(passwordRequest(email, RESET_URL));
	// An unknown address: the same (empty) answer.
	await client.request(passwordRequest(uniqueEmail('sdk-nobody'), RESET_URL));
	const mail = (await messages(email, 2))[1];
	assert.equal(mail.subject, 'Password Reset Request');
	const token = tokenOf(mail);
	await client.request(passwordReset(token, 'n3w-sdk-password'));
	assert.equal(await loginWorks(email, 'n3w-sdk-password'), true);
	assert.equal(await loginWorks(email, 'd1r3ctu5-sdk'), false);
	await assert.rejects(client.request(passwordReset(token, 'another-sdk-password')), (error) => {
		assert.equal(error.errors[0].extensions.code, 'FORBIDDEN');
		return true;
	});
	await assert.rejects(client.request(passwordRequest(email, 'https://evil.example/reset')), (error) => {
		assert.equal(error.errors[0].extensions.code, 'INVALID_PAYLOAD');
		return true;
	});
});
