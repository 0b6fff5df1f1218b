// The hosted pages' only script: it submits each form as a JSON fetch to the same API every
// client calls, and shows the API's errors in plain words. It never holds a token: sign-in uses
// session mode, so the access token lives only in the httpOnly session cookie, renewed through
// /auth/refresh before it expires. Passwords, two-factor secrets, codes and recovery codes
// stay in this script's variables for as long as a step needs them: never in the address,
// storage or the console, and every text it shows is set as text (textContent).
'use strict';

(function () {
  const body = document.body;
  const page = body.dataset.page;
  // The API is served where the pages' prefix starts (an API Gateway stage prefix included).
  const base = location.pathname.slice(0, location.pathname.indexOf('/auth/ui/'));
  const errorBox = document.getElementById('error');
  const noticeBox = document.getElementById('notice');
  // Set in this tab at sign-in, to tell "your session expired" from "you never signed in".
  // It is a marker, not a credential.
  const SIGNED_IN = 'auth-ui-signed-in';
  const SESSION_EXPIRED = 'Your session has expired. Please sign in again.';
  let renewTimer = null;

  function showError(text) {
    noticeBox.textContent = '';
    errorBox.textContent = text;
    // Keyboard and screen reader users land on the message (it is also an alert).
    errorBox.focus();
  }

  function showNotice(text) {
    errorBox.textContent = '';
    noticeBox.textContent = text;
  }

  function clearMessages() {
    errorBox.textContent = '';
    noticeBox.textContent = '';
  }

  // One API call. The outcome: ok, status, data, and the first error's code, as the API's
  // envelope (`{"errors":[{"message","extensions":{"code"}}]}`) has them.
  async function call(method, path, payload) {
    const init = {
      method: method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(base + path, init);
    } catch (error) {
      return { ok: false, status: 0, network: true };
    }
    let json = null;
    const type = response.headers.get('Content-Type') || '';
    if (type.indexOf('json') !== -1) {
      try {
        json = await response.json();
      } catch (error) {
        json = null;
      }
    }
    const first = json && Array.isArray(json.errors) ? json.errors[0] : null;
    return {
      ok: response.ok,
      status: response.status,
      data: json && json.data,
      error: first,
      code: first && first.extensions ? first.extensions.code : undefined,
      retryAfter: response.headers.get('Retry-After'),
    };
  }

  function plural(count, word) {
    return count + ' ' + word + (count === 1 ? '' : 's');
  }

  // Seconds to wait after a 429: Retry-After, else the window's reset in the envelope.
  function waitSeconds(result) {
    const header = Number.parseInt(result.retryAfter || '', 10);
    if (Number.isFinite(header) && header >= 0) {
      return Math.max(1, header);
    }
    const reset = result.error && result.error.extensions
      ? Date.parse(result.error.extensions.reset)
      : NaN;
    if (Number.isFinite(reset)) {
      return Math.max(1, Math.ceil((reset - Date.now()) / 1000));
    }
    return null;
  }

  function validationMessage(error) {
    const extensions = (error && error.extensions) || {};
    if (extensions.field === 'password') {
      switch (extensions.type) {
        case 'common':
          return 'This password is too common. Choose one that is harder to guess.';
        case 'length':
          return 'This password is too short or too long. ' + (error.message || '');
        case 'regex':
          return 'This password does not meet the password policy. Choose another one.';
        default:
          return 'This password cannot be used. Choose another one.';
      }
    }
    if (extensions.field === 'email') {
      return 'Enter a valid email address.';
    }
    return 'Please check the form. ' + ((error && error.message) || '');
  }

  // The API's errors in plain words; `context` says what was attempted.
  function describe(result, context) {
    if (result.network) {
      return 'The server could not be reached. Check your connection and try again.';
    }
    switch (result.code) {
      case 'INVALID_CREDENTIALS':
        return context === 'session' ? SESSION_EXPIRED : 'Wrong email or password.';
      case 'INVALID_OTP':
        return 'Wrong code. Please try again.';
      case 'REQUESTS_EXCEEDED': {
        const seconds = waitSeconds(result);
        return 'Too many attempts. ' + (seconds
          ? 'Please wait ' + plural(seconds, 'second') + ' and try again.'
          : 'Please wait a moment and try again.');
      }
      case 'USER_SUSPENDED':
        return 'This account is suspended. Please contact an administrator.';
      case 'INVALID_TOKEN':
      case 'TOKEN_EXPIRED':
        return context === 'link'
          ? 'This link has expired or was already used. Please ask for a new one.'
          : SESSION_EXPIRED;
      case 'FAILED_VALIDATION':
        return validationMessage(result.error);
      case 'INVALID_PAYLOAD':
        if (context === 'link') {
          return 'This link was already used, or the address was verified through another ' +
            'link. If your account is active, sign in.';
        }
        return 'Please check the form. ' + ((result.error && result.error.message) || '');
      case 'FORBIDDEN':
        if (context === 'register') {
          return 'Registration is closed. Ask an administrator for an account.';
        }
        return context === 'session' ? SESSION_EXPIRED : 'You are not allowed to do this.';
      case 'SERVICE_UNAVAILABLE':
        return 'The service is busy right now. Please try again in a moment.';
      default:
        return 'Something went wrong (' + (result.code || 'HTTP ' + result.status) +
          '). Please try again.';
    }
  }

  // While a form is being sent: its button is disabled (no double submits), the fields stay
  // focusable.
  function busy(form, on) {
    const button = form.querySelector('button[type="submit"]');
    if (button) {
      button.disabled = on;
    }
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function onSubmit(form, handler) {
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      clearMessages();
      busy(form, true);
      try {
        await handler(new FormData(form));
      } finally {
        busy(form, false);
      }
    });
  }

  // The one-time token of a mail link, then removed from the address bar and history.
  function linkToken() {
    const token = new URLSearchParams(location.search).get('token');
    history.replaceState(null, '', location.pathname);
    return token;
  }

  // `otp`: the second step's code (of the authenticator app, or a recovery code), if any.
  async function signIn(email, password, otp) {
    const payload = { email: email, password: password, mode: 'session' };
    if (otp !== undefined) {
      payload.otp = otp;
    }
    const result = await call('POST', '/auth/login', payload);
    if (result.ok) {
      sessionStorage.setItem(SIGNED_IN, '1');
      // Back to the app that sent the user here: the server rendered data-redirect only for
      // an address on its allow list; otherwise the pages' own signed-in page.
      location.assign(body.dataset.redirect || 'posts');
    }
    return result;
  }

  function signInPage() {
    const state = new URLSearchParams(location.search).get('session');
    if (state === 'expired') {
      showNotice(SESSION_EXPIRED);
    } else if (state === 'ended') {
      showNotice('You are signed out.');
    } else if (state === 'password') {
      showNotice('The password was wrong, and the API ended your session. Please sign in ' +
        'again.');
    }
    const form = document.getElementById('sign-in-form');
    const appCodeForm = document.getElementById('otp-form');
    const recoveryForm = document.getElementById('recovery-form');
    // Between the two steps of a two-factor sign-in, the email and password are kept here
    // only: the password field is emptied, and nothing is written anywhere else.
    let firstStep = null;

    function showStep(shown) {
      for (const step of [form, appCodeForm, recoveryForm]) {
        step.hidden = step !== shown;
      }
      shown.querySelector('input').focus();
    }

    onSubmit(form, async function (fields) {
      const email = fields.get('email');
      const password = fields.get('password');
      const result = await signIn(email, password);
      if (result.code === 'INVALID_OTP') {
        // The password was right and the account asks for a second factor.
        firstStep = { email: email, password: password };
        document.getElementById('password').value = '';
        showStep(appCodeForm);
        return;
      }
      if (!result.ok) {
        showError(describe(result, 'login'));
      }
    });

    async function secondStep(input) {
      const otp = input.value;
      input.value = '';
      if (!firstStep) {
        showStep(form);
        return;
      }
      const result = await signIn(firstStep.email, firstStep.password, otp);
      if (result.ok) {
        firstStep = null;
        return;
      }
      if (result.code === 'INVALID_OTP') {
        showError(input.id === 'otp'
          ? 'Wrong code. Enter the code your app shows now.'
          : 'Wrong recovery code.');
        return;
      }
      if (result.code === 'INVALID_CREDENTIALS' || result.code === 'USER_SUSPENDED') {
        // The password no longer signs in (changed meanwhile, or the account locked).
        firstStep = null;
        showStep(form);
      }
      showError(describe(result, 'login'));
    }

    onSubmit(appCodeForm, function () {
      return secondStep(document.getElementById('otp'));
    });
    onSubmit(recoveryForm, function () {
      return secondStep(document.getElementById('recovery-code'));
    });
    document.getElementById('use-recovery-code').addEventListener('click', function () {
      clearMessages();
      showStep(recoveryForm);
    });
    document.getElementById('use-app-code').addEventListener('click', function () {
      clearMessages();
      showStep(appCodeForm);
    });
  }

  function signUpPage() {
    const form = document.getElementById('sign-up-form');
    if (!form) {
      return; // Registration is closed: the page says so.
    }
    onSubmit(form, async function (fields) {
      const email = fields.get('email');
      const password = fields.get('password');
      const payload = { email: email, password: password };
      if (body.dataset.verificationUrl) {
        payload.verification_url = body.dataset.verificationUrl;
      }
      const result = await call('POST', '/users/register', payload);
      if (!result.ok) {
        showError(describe(result, 'register'));
        return;
      }
      if (body.dataset.verifyEmail === 'true') {
        form.hidden = true;
        showNotice('Almost done: we sent a link to ' + email +
          '. Open it to verify your address, then sign in.');
        return;
      }
      // Signed up means able to sign in at once: do it for them.
      const login = await signIn(email, password);
      if (!login.ok) {
        // INVALID_OTP: the address had an account with this password and a second factor.
        showError(login.code === 'INVALID_CREDENTIALS' || login.code === 'INVALID_OTP'
          ? 'We could not sign you in. If you already had an account with this address, ' +
            'sign in with its password.'
          : describe(login, 'login'));
      }
    });
  }

  // `wrongPassword`: the session ended on a wrong password (the account page's set-up).
  function sessionEnded(wrongPassword) {
    clearTimeout(renewTimer);
    const hadSession = sessionStorage.getItem(SIGNED_IN) === '1';
    sessionStorage.removeItem(SIGNED_IN);
    if (wrongPassword === true) {
      location.replace('sign-in?session=password');
      return;
    }
    location.replace(hadSession ? 'sign-in?session=expired' : 'sign-in');
  }

  // setTimeout fires at once for delays over 2^31 - 1 ms (about 24.8 days), so a long lifetime
  // would renew in a tight loop: wait at most an hour, then renew (early) anyway.
  const MAX_RENEW_DELAY = 3600000;
  // After a transient failure (offline, busy, rate limited), try again this much later.
  const RETRY_RENEW_DELAY = 30000;

  function scheduleRenewal(delay) {
    clearTimeout(renewTimer);
    renewTimer = setTimeout(async function () {
      const again = await renew();
      if (again.ok) {
        return;
      }
      if (transient(again)) {
        scheduleRenewal(RETRY_RENEW_DELAY);
      } else {
        sessionEnded();
      }
    }, Math.min(MAX_RENEW_DELAY, Math.max(1000, delay)));
  }

  // Renews the session cookie (a new access token, the session one generation on) a minute
  // before it expires, or at four fifths of a shorter lifetime (at most an hour ahead).
  async function renew() {
    const result = await call('POST', '/auth/refresh', { mode: 'session' });
    if (result.ok && result.data && Number.isFinite(result.data.expires)) {
      const expires = result.data.expires;
      scheduleRenewal(expires - Math.min(60000, expires / 5));
    }
    return result;
  }

  // A transient failure (no network, busy, rate limited) is not the end of the session.
  function transient(result) {
    return result.network || result.code === 'SERVICE_UNAVAILABLE' ||
      result.code === 'REQUESTS_EXCEEDED';
  }

  function itemHeading(item) {
    for (const field of ['title', 'name', 'label']) {
      if (typeof item[field] === 'string' && item[field] !== '') {
        return item[field];
      }
    }
    return 'Item ' + item.id;
  }

  function itemText(item) {
    for (const field of ['content', 'body', 'description', 'summary']) {
      if (typeof item[field] === 'string') {
        return item[field];
      }
    }
    return '';
  }

  // Text only (textContent): nothing an item holds can become markup.
  function showItems(container, items) {
    container.textContent = '';
    container.setAttribute('aria-busy', 'false');
    if (items.length === 0) {
      const empty = document.createElement('p');
      empty.textContent = 'There is nothing here for you yet.';
      container.appendChild(empty);
      return;
    }
    const list = document.createElement('ul');
    list.className = 'items';
    for (const item of items) {
      const entry = document.createElement('li');
      const heading = document.createElement('h3');
      heading.textContent = itemHeading(item);
      entry.appendChild(heading);
      const text = itemText(item);
      if (text) {
        const paragraph = document.createElement('p');
        paragraph.textContent = text;
        entry.appendChild(paragraph);
      }
      list.appendChild(entry);
    }
    container.appendChild(list);
  }

  // The signed-in pages' sign-out button.
  function wireSignOut() {
    const signOut = document.getElementById('sign-out');
    signOut.addEventListener('click', async function () {
      signOut.disabled = true;
      const result = await call('POST', '/auth/logout', { mode: 'session' });
      if (result.ok || !transient(result)) {
        // Signed out, or the session was already over: either way, no session is left.
        clearTimeout(renewTimer);
        sessionStorage.removeItem(SIGNED_IN);
        location.replace('sign-in?session=ended');
        return;
      }
      signOut.disabled = false;
      showError(describe(result, 'session'));
    });
  }

  // A signed-in page's start: renewing first proves the session is alive and learns when it
  // expires. Without a session the visitor is sent to sign in; a transient failure is shown.
  async function sessionAlive() {
    const renewed = await renew();
    if (renewed.ok) {
      return true;
    }
    if (transient(renewed)) {
      showError(describe(renewed, 'session'));
    } else {
      sessionEnded();
    }
    return false;
  }

  // An API answer saying the session is over: off to sign in.
  function sessionOver(result) {
    if (result.code === 'INVALID_CREDENTIALS' || result.code === 'TOKEN_EXPIRED' ||
        result.code === 'INVALID_TOKEN') {
      sessionEnded();
      return true;
    }
    return false;
  }

  async function postsPage() {
    const container = document.getElementById('items');
    wireSignOut();
    if (!(await sessionAlive())) {
      container.setAttribute('aria-busy', 'false');
      container.textContent = '';
      return;
    }
    const collection = encodeURIComponent(body.dataset.collection);
    const result = await call('GET', '/items/' + collection + '?limit=100');
    if (result.ok && Array.isArray(result.data)) {
      showItems(container, result.data);
      return;
    }
    if (sessionOver(result)) {
      return;
    }
    container.setAttribute('aria-busy', 'false');
    container.textContent = '';
    showError(result.code === 'FORBIDDEN'
      ? 'You are not allowed to read these items.'
      : describe(result, 'session'));
  }

  // The reason of an INVALID_PAYLOAD answer (`extensions.reason`), or ''.
  function reasonOf(result) {
    const extensions = result.error && result.error.extensions;
    return extensions && typeof extensions.reason === 'string' ? extensions.reason : '';
  }

  // A base32 key in groups of four, easier to type (authenticator apps ignore the spaces).
  function grouped(key) {
    return (key.match(/.{1,4}/g) || []).join(' ');
  }

  // The account page: two-factor sign-in on or off. The set-up's secret is held in `secret`
  // only while the set-up is shown; its QR code is drawn by the pages function (a POST: the
  // secret is in no URL) and shown from a blob: URL, revoked when the set-up ends.
  async function accountPage() {
    wireSignOut();
    const status = document.getElementById('tfa-status');
    const startForm = document.getElementById('tfa-start-form');
    const setup = document.getElementById('tfa-setup');
    const enableForm = document.getElementById('tfa-enable-form');
    const qrImage = document.getElementById('tfa-qr');
    const secretText = document.getElementById('tfa-secret');
    const recovery = document.getElementById('tfa-recovery');
    const recoveryList = document.getElementById('tfa-recovery-codes');
    const disableForm = document.getElementById('tfa-disable-form');
    const STATUS = {
      off: 'Two-factor sign-in is off.',
      setup: 'Two-factor sign-in is off until you enter a code below.',
      codes: 'Two-factor sign-in is on.',
      on: 'Two-factor sign-in is on.',
      unknown: 'Two-factor sign-in cannot be changed here for this account. Ask an ' +
        'administrator.',
    };
    let secret = null;
    let qrUrl = null;

    function show(state) {
      startForm.hidden = state !== 'off';
      setup.hidden = state !== 'setup';
      recovery.hidden = state !== 'codes';
      disableForm.hidden = state !== 'on';
      status.setAttribute('aria-busy', 'false');
      status.textContent = STATUS[state];
    }

    function forgetSetup() {
      secret = null;
      secretText.textContent = '';
      qrImage.removeAttribute('src');
      if (qrUrl) {
        URL.revokeObjectURL(qrUrl);
        qrUrl = null;
      }
    }

    async function drawQrCode(otpauthUrl) {
      let response;
      try {
        response = await fetch(base + '/auth/ui/account/qr', {
          method: 'POST',
          credentials: 'same-origin',
          cache: 'no-store',
          headers: { 'Content-Type': 'application/json', Accept: 'image/svg+xml' },
          body: JSON.stringify({ otpauth_url: otpauthUrl }),
        });
      } catch (error) {
        return false;
      }
      if (!response.ok || response.headers.get('Content-Type') !== 'image/svg+xml') {
        return false;
      }
      const svg = await response.blob();
      // A blob: URL of this answer (an image: it runs nothing), revoked in forgetSetup.
      qrImage.src = URL.createObjectURL(svg);
      qrUrl = qrImage.src;
      return true;
    }

    if (!(await sessionAlive())) {
      status.setAttribute('aria-busy', 'false');
      status.textContent = '';
      return;
    }
    const me = await call('GET', '/users/me?fields=tfa_secret');
    if (!me.ok) {
      if (!sessionOver(me)) {
        status.setAttribute('aria-busy', 'false');
        status.textContent = '';
        showError(describe(me, 'session'));
      }
      return;
    }
    // "**********" when on, null when off; absent when the account may not read it.
    const known = me.data && Object.prototype.hasOwnProperty.call(me.data, 'tfa_secret');
    show(!known ? 'unknown' : (me.data.tfa_secret ? 'on' : 'off'));

    onSubmit(startForm, async function (fields) {
      const password = fields.get('password');
      startForm.reset();
      const result = await call('POST', '/users/me/tfa/generate', { password: password });
      if (!result.ok) {
        if (result.code === 'INVALID_CREDENTIALS') {
          // A wrong password, or no session any more. The API answers a wrong password as a
          // failed session too, and clears the session cookie with it: renewing tells
          // whether the session is still there.
          const still = await renew();
          if (!still.ok && !transient(still)) {
            sessionEnded(true);
            return;
          }
          showError('Wrong password.');
          return;
        }
        if (reasonOf(result).indexOf('already set') !== -1) {
          show('on');
          showNotice('Two-factor sign-in is already on.');
          return;
        }
        showError(describe(result, 'account'));
        return;
      }
      const data = result.data || {};
      if (typeof data.secret !== 'string' || typeof data.otpauth_url !== 'string') {
        showError(describe(result, 'account'));
        return;
      }
      forgetSetup();
      secret = data.secret;
      secretText.textContent = grouped(data.secret);
      show('setup');
      if (!(await drawQrCode(data.otpauth_url))) {
        showError('The QR code could not be shown. Type the key into your app instead.');
      }
      document.getElementById('tfa-code').focus();
    });

    document.getElementById('tfa-cancel').addEventListener('click', function () {
      forgetSetup();
      enableForm.reset();
      clearMessages();
      show('off');
      document.getElementById('password').focus();
    });

    onSubmit(enableForm, async function (fields) {
      const otp = fields.get('tfa-code');
      enableForm.reset();
      if (!secret) {
        show('off');
        return;
      }
      const result = await call('POST', '/users/me/tfa/enable', { secret: secret, otp: otp });
      if (!result.ok) {
        const reason = reasonOf(result);
        if (sessionOver(result)) {
          return;
        }
        if (reason.indexOf('"otp"') !== -1) {
          showError('Wrong code. Enter the code your app shows now.');
        } else if (reason.indexOf('"secret"') !== -1) {
          // Ten minutes passed, or another set-up replaced this one.
          forgetSetup();
          show('off');
          showError('This set-up has expired. Please start again.');
        } else if (reason.indexOf('already set') !== -1) {
          forgetSetup();
          show('on');
          showNotice('Two-factor sign-in is already on.');
        } else if (result.code === 'FORBIDDEN') {
          showError('You are not allowed to turn on two-factor sign-in. Ask an administrator.');
        } else {
          showError(describe(result, 'account'));
        }
        return;
      }
      forgetSetup();
      const codes = result.data && Array.isArray(result.data.recovery_codes)
        ? result.data.recovery_codes
        : [];
      recoveryList.textContent = '';
      for (const code of codes) {
        const item = document.createElement('li');
        const text = document.createElement('code');
        text.textContent = String(code);
        item.appendChild(text);
        recoveryList.appendChild(item);
      }
      show('codes');
      document.getElementById('recovery-heading').focus();
    });

    // Shown once: gone from the page when the user says they kept them.
    document.getElementById('tfa-recovery-done').addEventListener('click', function () {
      recoveryList.textContent = '';
      clearMessages();
      show('on');
      document.getElementById('tfa-disable-code').focus();
    });

    onSubmit(disableForm, async function (fields) {
      const otp = fields.get('tfa-disable-code');
      disableForm.reset();
      const result = await call('POST', '/users/me/tfa/disable', { otp: otp });
      if (result.ok) {
        show('off');
        showNotice('Two-factor sign-in is now off.');
        return;
      }
      if (sessionOver(result)) {
        return;
      }
      const reason = reasonOf(result);
      if (reason.indexOf('"otp"') !== -1) {
        showError('Wrong code. Please try again.');
      } else if (reason.indexOf('have TFA enabled') !== -1) {
        show('off');
      } else {
        showError(describe(result, 'account'));
      }
    });
  }

  function forgotPasswordPage() {
    const form = document.getElementById('forgot-form');
    onSubmit(form, async function (fields) {
      const payload = { email: fields.get('email') };
      if (body.dataset.resetUrl) {
        payload.reset_url = body.dataset.resetUrl;
      }
      const result = await call('POST', '/auth/password/request', payload);
      if (result.ok) {
        showNotice('If an account uses this address, we have sent it a link to choose a new ' +
          'password. Please check your inbox.');
      } else {
        showError(describe(result, 'request'));
      }
    });
  }

  function resetPasswordPage() {
    const form = document.getElementById('reset-form');
    const token = linkToken();
    if (!token) {
      form.hidden = true;
      showError('This link is incomplete. Open the link from the email again, or ask for a new one.');
      return;
    }
    onSubmit(form, async function (fields) {
      const result = await call('POST', '/auth/password/reset', {
        token: token,
        password: fields.get('password'),
      });
      if (result.ok) {
        form.hidden = true;
        showNotice('Your password is changed. You can sign in with it now.');
      } else {
        showError(describe(result, 'link'));
      }
    });
  }

  // Opening the link verifies nothing (mail scanners open links too): the button posts the
  // token, and only that verifies.
  function verifyEmailPage() {
    const form = document.getElementById('verify-form');
    const intro = document.getElementById('verify-intro');
    const token = linkToken();
    if (!token) {
      form.hidden = true;
      intro.hidden = true;
      showError('This link is incomplete. Open the link from the email again.');
      return;
    }
    onSubmit(form, async function () {
      const result = await call('POST', '/users/register/verify-email', { token: token });
      if (result.ok) {
        form.hidden = true;
        intro.hidden = true;
        showNotice('Your email address is verified. You can sign in now.');
      } else {
        showError(describe(result, 'link'));
      }
    });
  }

  const pages = {
    'sign-in': signInPage,
    'sign-up': signUpPage,
    'posts': postsPage,
    'forgot-password': forgotPasswordPage,
    'reset-password': resetPasswordPage,
    'verify-email': verifyEmailPage,
    'account': accountPage,
  };
  if (pages[page]) {
    pages[page]();
  }
})();
