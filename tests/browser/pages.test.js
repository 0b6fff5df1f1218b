// The hosted pages (/auth/ui/) in a real browser: Debian's chromium driven by playwright-core.
// API_URL is the shared test stack (registration open, the seeded post); CLOSED_API_URL is the
// pages stack (tests/fixtures/pages.json: registration closed, 3 logins a minute, branding);
// MAIL_API_URL the mail stack (email verification on), mailing to INBOX_URL.
// Each page is also checked with axe-core (no serious or critical violation), walked with the
// keyboard only, and photographed at desktop and phone width into docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const API = process.env.API_URL;
const CLOSED = process.env.CLOSED_API_URL;
// The mail stack (email verification on) and the inbox it mails to.
const MAIL_API = process.env.MAIL_API_URL;
const INBOX = process.env.INBOX_URL;
const SHOTS = process.env.SCREENSHOT_DIR || join(here, '..', '..', 'docs', 'screenshots');
// axe-core from node_modules, a local file: nothing is fetched from outside.
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };
const PASSWORD = 'quickstart-horse-battery-7';
const SEEDED_POST = 'Hello from the quickstart';

let browser;

before(async () => {
  assert.ok(API && CLOSED && MAIL_API && INBOX, 'API_URL, CLOSED_API_URL, MAIL_API_URL and INBOX_URL are set');
  mkdirSync(SHOTS, { recursive: true });
  // playwright-core starts chromium with a fresh temporary --user-data-dir of its own.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

function uniqueEmail(tag) {
  return `browser-${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

// A page in a fresh context (its own cookie jar). Script errors and CSP violations are
// collected: every scenario ends by asserting there were none.
async function openPage() {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/.test(message.text())) {
      problems.push(message.text());
    }
  });
  return { context, page, problems };
}

async function close({ context, problems }) {
  await context.close();
  assert.deepEqual(problems, [], 'no script error and no CSP violation');
}

async function messageOf(page, id) {
  const locator = page.locator(`#${id}`);
  await locator.filter({ hasText: /\S/ }).waitFor({ timeout: 15000 });
  return (await locator.textContent()).trim();
}

// axe-core evaluated through the DevTools protocol (the page's own CSP still holds for the
// page); serious and critical violations fail.
async function checkAccessibility(page, name) {
  await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const result = await page.evaluate(() => globalThis.axe.run(document, {
    resultTypes: ['violations'],
  }));
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, [], `axe on ${name}`);
}

// Both widths; at phone width nothing may scroll sideways.
async function screenshots(page, name) {
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(size);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `${name} at ${label} width scrolls sideways by ${overflow}px`);
    await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

// What Tab reaches, in order, from the brand link: each stop named by its id, its link target
// or its text, and each must show a focus outline.
async function tabStops(page, count) {
  await page.focus('.brand-link');
  const stops = [];
  for (let i = 0; i < count; i += 1) {
    await page.keyboard.press('Tab');
    stops.push(await page.evaluate(() => {
      const element = document.activeElement;
      const style = getComputedStyle(element);
      if (style.outlineStyle === 'none' || style.outlineWidth === '0px') {
        return `NO FOCUS OUTLINE on ${element.outerHTML.slice(0, 80)}`;
      }
      return element.id || element.getAttribute('href') || element.textContent.trim();
    }));
  }
  return stops;
}

async function checkPage(page, name, expectedStops) {
  const stops = await tabStops(page, expectedStops.length);
  assert.deepEqual(stops, expectedStops, `keyboard order on ${name}`);
  await checkAccessibility(page, name);
  await screenshots(page, name);
}

async function goto(page, base, name) {
  const response = await page.goto(`${base}/auth/ui/${name}`);
  assert.equal(response.status(), 200, name);
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /script-src 'self'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');
}

// Types into the focused field and moves on with Tab: the keyboard only.
async function typeAndTab(page, text) {
  await page.keyboard.type(text);
  await page.keyboard.press('Tab');
}

// On the signed-in page with the items shown; otherwise says where the browser is instead.
async function signedIn(page) {
  try {
    await page.waitForURL(/\/auth\/ui\/posts$/, { timeout: 20000 });
    await page.locator('#items li').first().waitFor({ timeout: 10000 });
  } catch (error) {
    const text = async (id) => page.locator(`#${id}`).textContent().catch(() => '?');
    throw new Error(`not signed in: at ${page.url()}, error "${await text('error')}", ` +
      `notice "${await text('notice')}": ${error.message}`);
  }
}

test('sign up, see the seeded post, stay signed in across a reload, sign out, sign in again', async () => {
  const session = await openPage();
  const { page } = session;
  const email = uniqueEmail('journey');

  await goto(page, API, 'sign-up');
  await checkPage(page, 'sign-up', ['email', 'password', 'Create account', 'sign-in']);

  // Too common a password first: the policy's refusal in plain words.
  await page.focus('.brand-link');
  await page.keyboard.press('Tab');
  await typeAndTab(page, email);
  await page.keyboard.type('password');
  await page.keyboard.press('Enter');
  assert.match(await messageOf(page, 'error'), /too common/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'error');

  // Then a good one: registered, signed in at once, on the signed-in page.
  await page.fill('#password', '');
  await page.focus('#password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/auth\/ui\/posts$/);
  await page.locator('#items li').first().waitFor();
  assert.match(await page.locator('#items').textContent(), new RegExp(SEEDED_POST));

  // The script holds no token: none in storage, and the session cookie is httpOnly.
  const cookies = await session.context.cookies();
  const sessionCookie = cookies.find((c) => c.name === 'directus_session_token');
  assert.ok(sessionCookie, 'the session cookie is set');
  assert.equal(sessionCookie.httpOnly, true);
  assert.equal(await page.evaluate(() => document.cookie), '');
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
  assert.ok(!stored.includes(sessionCookie.value), 'no token in sessionStorage');

  await checkPage(page, 'posts', ['account', 'sign-out']);

  // A reload keeps the session (the cookie is renewed, the post shown again).
  await page.reload();
  await page.locator('#items li').first().waitFor();
  assert.match(await page.locator('#items').textContent(), new RegExp(SEEDED_POST));

  // Sign out with the keyboard.
  await page.focus('#sign-out');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/auth\/ui\/sign-in\?session=ended$/);
  assert.equal(await messageOf(page, 'notice'), 'You are signed out.');
  const after = await session.context.cookies();
  assert.ok(!after.some((c) => c.name === 'directus_session_token' && c.value), 'cookie cleared');

  // Signed out: the signed-in page sends the visitor to sign in.
  await page.goto(`${API}/auth/ui/posts`);
  await page.waitForURL(/\/auth\/ui\/sign-in/);

  // Wrong password, then the right one, keyboard only.
  await goto(page, API, 'sign-in');
  await page.focus('.brand-link');
  await page.keyboard.press('Tab');
  await typeAndTab(page, email);
  await page.keyboard.type('not-the-password');
  await page.keyboard.press('Enter');
  assert.equal(await messageOf(page, 'error'), 'Wrong email or password.');
  await screenshots(page, 'sign-in-wrong-password');
  await page.fill('#password', PASSWORD);
  await page.focus('#password');
  await page.keyboard.press('Enter');
  await signedIn(page);
  await close(session);
});

test('the sign-in, forgot-password, reset and verification pages', async () => {
  const session = await openPage();
  const { page } = session;
  await goto(page, API, 'sign-in');
  await checkPage(page, 'sign-in', [
    'email', 'password', 'Sign in', 'forgot-password', 'sign-up',
  ]);

  await goto(page, API, 'forgot-password');
  await checkPage(page, 'forgot-password', ['email', 'Send the link', 'sign-in']);
  // Sent on the pages stack: its password-request budget (5 a minute per address) is this
  // test's alone, while the shared stack's is also spent by the fuzzer from this address.
  await goto(page, CLOSED, 'forgot-password');
  await page.focus('#email');
  await page.keyboard.type(uniqueEmail('forgot'));
  await page.keyboard.press('Enter');
  assert.match(await messageOf(page, 'notice'), /If an account uses this address/);

  // A mail link without its token says so.
  await goto(page, API, 'reset-password');
  assert.match(await messageOf(page, 'error'), /link is incomplete/);
  await checkPage(page, 'reset-password', ['sign-in']);

  // Opening the verification page verifies nothing: it shows a button. With a token that is
  // not ours, pressing it gets the API's refusal, in plain words.
  await page.goto(`${API}/auth/ui/verify-email?token=not-a-token`);
  assert.equal(new URL(page.url()).search, '', 'the token is taken out of the address bar');
  await checkPage(page, 'verify-email', ['Verify my email address', 'sign-in']);
  await page.focus('#verify-form button');
  await page.keyboard.press('Enter');
  assert.match(await messageOf(page, 'error'), /expired or was already used/);
  await close(session);
});

// The mail stack verifies addresses: a registration's mail, its link opened in the browser.
async function registeredLink(tag, password) {
  const email = uniqueEmail(tag);
  const registered = await fetch(`${MAIL_API}/users/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(registered.status, 204);
  const deadline = Date.now() + 20000;
  for (;;) {
    const url = new URL('/api/email', INBOX);
    url.searchParams.set('to.address', email);
    const list = await (await fetch(url)).json();
    if (list.length > 0 || Date.now() > deadline) {
      assert.equal(list.length, 1, `the mail to ${email}`);
      const link = list[0].text.split(/\s+/).find((w) => /^https?:\/\//.test(w));
      return { email, link };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function loginStatus(email, password) {
  const response = await fetch(`${MAIL_API}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return response.status;
}

test('a mailed verification link verifies only when its page\'s button is pressed', async () => {
  const session = await openPage();
  const { page } = session;

  // The API's own link: a confirmation page, then the form post.
  const first = await registeredLink('link', PASSWORD);
  assert.ok(first.link.startsWith(`${MAIL_API}/users/register/verify-email?token=`), first.link);
  const opened = await page.goto(first.link);
  assert.equal(opened.status(), 200);
  assert.match(opened.headers()['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(opened.headers()['x-content-type-options'], 'nosniff');
  await page.locator('#verify-form button').waitFor();
  await checkAccessibility(page, 'verify-email-link');
  assert.equal(await loginStatus(first.email, PASSWORD), 401, 'opening the link verified nothing');
  await page.focus('#verify-form button');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert.match(await page.locator('#verified').textContent(), /verified/);
  assert.equal(await loginStatus(first.email, PASSWORD), 200);
  // Back and pressed again: the link is spent, and the page says so.
  await page.goto(first.link);
  await page.focus('#verify-form button');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert.match(await page.locator('#refused').textContent(), /already used/);

  // The hosted page with the same kind of token: nothing on load, verified by the button.
  const second = await registeredLink('hosted', PASSWORD);
  const token = new URL(second.link).searchParams.get('token');
  await page.goto(`${MAIL_API}/auth/ui/verify-email?token=${encodeURIComponent(token)}`);
  await page.locator('#verify-form button').waitFor();
  // Give a script that would verify on load the time to do it.
  await page.waitForLoadState('networkidle');
  assert.equal(await loginStatus(second.email, PASSWORD), 401, 'opening the page verified nothing');
  await page.focus('#verify-form button');
  await page.keyboard.press('Enter');
  assert.match(await messageOf(page, 'notice'), /is verified/);
  assert.equal(await loginStatus(second.email, PASSWORD), 200);
  await close(session);
});

// The inbox (maildev's API): the messages to `address`, waiting until there are `count`.
async function mailsTo(address, count) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const url = `${process.env.INBOX_URL}/api/email?to.address=${encodeURIComponent(address)}`;
    const mails = await (await fetch(url)).json();
    if (mails.length >= count || Date.now() > deadline) {
      assert.equal(mails.length, count, `mails to ${address}`);
      return mails;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// Before the rate-limit test below: the pages stack allows 3 logins a minute from here.
test('forgot password through the mail link, then back to the app after sign-in', async () => {
  const email = process.env.FORGOT_EMAIL;
  const returnUrl = process.env.RETURN_URL;
  assert.ok(email && returnUrl && process.env.INBOX_URL, 'FORGOT_EMAIL, RETURN_URL, INBOX_URL');
  const session = await openPage();
  const { page } = session;

  // The stack has make dev's mail defaults: the form sends the hosted reset page.
  await goto(page, CLOSED, 'forgot-password');
  await page.focus('#email');
  await page.keyboard.type(email);
  await page.keyboard.press('Enter');
  assert.match(await messageOf(page, 'notice'), /If an account uses this address/);

  // The mail's link opens the reset page here (not a 404 elsewhere).
  const [mail] = await mailsTo(email, 1);
  const link = mail.text.split(/\s+/).find((word) => /^https?:\/\//.test(word));
  assert.ok(link.startsWith(`${CLOSED}/auth/ui/reset-password?token=`), link);
  const opened = await page.goto(link);
  assert.equal(opened.status(), 200);
  assert.equal(new URL(page.url()).search, '', 'the token is taken out of the address bar');
  await page.focus('#password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  assert.match(await messageOf(page, 'notice'), /Your password is changed/);

  // Sign in with the new password from a page an app sent the user to: back to the app.
  const signInUrl = `${CLOSED}/auth/ui/sign-in?redirect=${encodeURIComponent(returnUrl)}`;
  const shown = await page.goto(signInUrl);
  assert.equal(shown.status(), 200);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.focus('#password');
  await page.keyboard.press('Enter');
  await page.waitForURL(returnUrl, { timeout: 20000 });
  assert.equal(await page.locator('body').textContent(), 'pong');

  // A return address outside the allow list is refused before any page is shown.
  const foreign = await page.goto(
    `${CLOSED}/auth/ui/sign-in?redirect=${encodeURIComponent('https://evil.example/')}`,
  );
  assert.equal(foreign.status(), 400);
  await close(session);
});

test('registration closed, branding, and too many attempts on the pages stack', async () => {
  const session = await openPage();
  const { page } = session;

  await goto(page, CLOSED, 'sign-in');
  assert.equal(await page.locator('a[href="sign-up"]').count(), 0, 'no sign-up link');
  assert.equal(await page.locator('.brand-link').textContent(), 'Quickstart & Co <Pages>');
  const brand = await page.evaluate(() => getComputedStyle(document.querySelector('.brand')).backgroundColor);
  assert.equal(brand, 'rgb(11, 110, 79)');

  await goto(page, CLOSED, 'sign-up');
  assert.match(await page.locator('#registration-closed').textContent(), /Registration is closed/);
  assert.equal(await page.locator('form').count(), 0);
  await checkPage(page, 'sign-up-closed', ['sign-in']);

  // The stack allows 3 logins a minute from one address: the fourth at the latest is refused,
  // with the wait the API gave.
  await goto(page, CLOSED, 'sign-in');
  let message = '';
  for (let attempt = 0; attempt < 6; attempt += 1) {
    // Cleared first, so that the wait below sees this attempt's message.
    await page.evaluate(() => { document.getElementById('error').textContent = ''; });
    await page.fill('#email', uniqueEmail('limited'));
    await page.fill('#password', 'wrong-password-here');
    await page.focus('#password');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => document.getElementById('error').textContent.trim() !== '',
      null,
      { timeout: 20000 },
    );
    message = (await page.locator('#error').textContent()).trim();
    if (message.startsWith('Too many')) {
      break;
    }
    assert.equal(message, 'Wrong email or password.');
  }
  assert.match(message, /^Too many attempts\. Please wait \d+ seconds? and try again\.$/);
  await checkAccessibility(page, 'sign-in-rate-limited');
  await screenshots(page, 'sign-in-rate-limited');
  await close(session);
});

// RFC 6238 (SHA-1, six digits, 30-second steps) as an authenticator app computes it: the
// code of a base32 secret at `step` (seconds since the epoch / 30).
function totp(secretBase32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretBase32.replace(/[\s=]/g, '').toUpperCase()) {
    const value = alphabet.indexOf(c);
    assert.ok(value >= 0, `base32: ${c}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const key = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) {
    key.push(Number.parseInt(bits.slice(i, i + 8), 2));
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', Buffer.from(key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

const STEP_MS = 30000;

// Codes of one secret as the API takes them: each step once, within a step of the server's
// clock (the same machine's). Waits for the clock when the next unused step is too far ahead.
function authenticator(secret) {
  let used = -1;
  return async function nextCode() {
    for (;;) {
      const now = Math.floor(Date.now() / STEP_MS);
      const step = Math.max(now, used + 1);
      if (step <= now + 1) {
        used = step;
        return totp(secret, step);
      }
      await new Promise((resolve) => setTimeout(resolve, (now + 1) * STEP_MS - Date.now() + 250));
    }
  };
}

async function textIs(page, id, text) {
  await page.waitForFunction(
    ([id, text]) => document.getElementById(id).textContent.trim() === text,
    [id, text],
    { timeout: 15000 },
  ).catch(async (error) => {
    const shown = await page.locator(`#${id}`).textContent();
    const problem = await page.locator('#error').textContent();
    throw new Error(`#${id} says "${shown}" (error "${problem}"), not "${text}": ${error.message}`);
  });
}

// Neither the address, the storage nor the page's text outside `allowed` holds `secret`.
async function nowhere(page, secret, what) {
  assert.ok(!page.url().includes(secret), `${what} not in the address`);
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
  assert.ok(!stored.includes(secret), `${what} not in sessionStorage`);
  const values = await page.evaluate(
    () => Array.from(document.querySelectorAll('input')).map((input) => input.value).join('\n'),
  );
  assert.ok(!values.includes(secret), `${what} not left in a field`);
}

async function signInWithPassword(page, email, password) {
  await goto(page, API, 'sign-in');
  await page.focus('#email');
  await typeAndTab(page, email);
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

async function signOut(page) {
  await page.focus('#sign-out');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/auth\/ui\/sign-in\?session=ended$/);
}

test('two-factor sign-in: set up on the account page, asked at sign-in, a recovery code, off again', async () => {
  // The RFC 6238 test vector (SHA-1, T = 59 s): the codes below are computed right.
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082');
  const email = process.env.TFA_EMAIL;
  const password = process.env.TFA_PASSWORD;
  assert.ok(email && password, 'TFA_EMAIL and TFA_PASSWORD are set');
  const session = await openPage();
  const { page } = session;

  // Signed in with the password alone; the signed-in page links to the account page.
  await signInWithPassword(page, email, password);
  await signedIn(page);
  await page.focus('a[href="account"]');
  await Promise.all([page.waitForURL(/\/auth\/ui\/account$/), page.keyboard.press('Enter')]);
  await textIs(page, 'tfa-status', 'Two-factor sign-in is off.');
  await checkPage(page, 'account', ['password', 'Set up two-factor sign-in', 'posts', 'sign-out']);

  // The set-up asks the password first. A wrong one is refused; the tfa route answers it as a
  // failed session and clears the session cookie, so the page may have to send the user to
  // sign in again (and says why); either way the set-up goes on with the right password.
  await page.focus('#password');
  await page.keyboard.type('not-my-password');
  await page.keyboard.press('Enter');
  const outcome = await Promise.any([
    page.waitForURL(/\/auth\/ui\/sign-in\?session=password$/, { timeout: 15000 })
      .then(() => 'signed out'),
    page.locator('#error').filter({ hasText: /\S/ }).waitFor({ timeout: 15000 })
      .then(() => 'refused'),
  ]);
  if (outcome === 'signed out') {
    assert.match(await messageOf(page, 'notice'), /^The password was wrong/);
    await signInWithPassword(page, email, password);
    await signedIn(page);
    await goto(page, API, 'account');
    await textIs(page, 'tfa-status', 'Two-factor sign-in is off.');
  } else {
    assert.equal(await messageOf(page, 'error'), 'Wrong password.');
  }
  await page.focus('#password');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.locator('#tfa-setup').waitFor({ state: 'visible' });
  // The QR code, drawn by the pages function, shown from a blob: URL (the CSP allows it: a
  // violation would fail the scenario), and the key as text.
  await page.waitForFunction(() => {
    const image = document.getElementById('tfa-qr');
    return image.src.startsWith('blob:') && image.complete && image.naturalWidth >= 200;
  }, null, { timeout: 15000 });
  const secret = (await page.locator('#tfa-secret').textContent()).replace(/\s/g, '');
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await nowhere(page, secret, 'the secret');
  assert.equal(await page.inputValue('#password'), '', 'the password is not left in its field');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tfa-code');
  assert.equal(await page.getAttribute('#tfa-code', 'inputmode'), 'numeric');
  assert.equal(await page.getAttribute('#tfa-code', 'autocomplete'), 'one-time-code');
  await checkAccessibility(page, 'account-setup');
  await screenshots(page, 'account-setup');
  const nextCode = authenticator(secret);

  // A wrong code is refused; the app's code turns it on and shows the recovery codes once.
  const wrong = totp(secret, Math.floor(Date.now() / STEP_MS) - 10);
  await page.focus('#tfa-code');
  await page.keyboard.type(wrong);
  await page.keyboard.press('Enter');
  assert.equal(await messageOf(page, 'error'), 'Wrong code. Enter the code your app shows now.');
  await page.focus('#tfa-code');
  await page.keyboard.type(await nextCode());
  await page.keyboard.press('Enter');
  await page.locator('#tfa-recovery').waitFor({ state: 'visible' });
  const recoveryCodes = (await page.locator('#tfa-recovery-codes li').allTextContents())
    .map((code) => code.trim());
  assert.equal(recoveryCodes.length, 10);
  for (const code of recoveryCodes) {
    assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
  }
  assert.equal(await page.locator('#tfa-secret').textContent(), '', 'the key is gone');
  assert.equal(await page.getAttribute('#tfa-qr', 'src'), null, 'the QR code is gone');
  await nowhere(page, recoveryCodes[0], 'a recovery code');
  await textIs(page, 'tfa-status', 'Two-factor sign-in is on.');
  await checkAccessibility(page, 'account-recovery-codes');
  await screenshots(page, 'account-recovery-codes');
  await page.focus('#tfa-recovery-done');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#tfa-recovery-codes li').count(), 0, 'shown once');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tfa-disable-code');

  // Signed out, the password alone no longer signs in: the code step appears.
  await signOut(page);
  await signInWithPassword(page, email, password);
  await page.locator('#otp-form').waitFor({ state: 'visible' });
  assert.ok(await page.locator('#sign-in-form').isHidden());
  assert.equal(await page.evaluate(() => document.activeElement.id), 'otp');
  assert.equal(await page.getAttribute('#otp', 'inputmode'), 'numeric');
  assert.equal(await page.getAttribute('#otp', 'autocomplete'), 'one-time-code');
  await nowhere(page, password, 'the password');
  await checkAccessibility(page, 'sign-in-code');
  await screenshots(page, 'sign-in-code');
  await page.focus('#otp');
  await page.keyboard.type(wrong);
  await page.keyboard.press('Enter');
  assert.equal(await messageOf(page, 'error'), 'Wrong code. Enter the code your app shows now.');
  await page.focus('#otp');
  await page.keyboard.type(await nextCode());
  await page.keyboard.press('Enter');
  await signedIn(page);

  // A recovery code signs in instead of the app's code.
  await signOut(page);
  await signInWithPassword(page, email, password);
  await page.locator('#otp-form').waitFor({ state: 'visible' });
  await page.focus('#use-recovery-code');
  await page.keyboard.press('Enter');
  await page.locator('#recovery-form').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'recovery-code');
  await checkAccessibility(page, 'sign-in-recovery-code');
  await page.keyboard.type(recoveryCodes[0]);
  await page.keyboard.press('Enter');
  await signedIn(page);

  // Turned off with a code; then the password alone signs in again.
  await goto(page, API, 'account');
  await textIs(page, 'tfa-status', 'Two-factor sign-in is on.');
  await checkAccessibility(page, 'account-on');
  await page.focus('#tfa-disable-code');
  await page.keyboard.type(await nextCode());
  await page.keyboard.press('Enter');
  assert.equal(await messageOf(page, 'notice'), 'Two-factor sign-in is now off.');
  await textIs(page, 'tfa-status', 'Two-factor sign-in is off.');
  const login = await fetch(`${API}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(login.status, 200, 'no code asked any more');
  await close(session);
});
