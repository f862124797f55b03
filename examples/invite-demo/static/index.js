// invite-rs demo: the sign-in / register page.
'use strict';

(() => {
  const params = new URLSearchParams(window.location.search);
  const returnTo = withoutInviteToken(Demo.safeReturn(params.get('return')));

  // A return to `/invite?token=…` (an older page's link) carries the token in this URL:
  // move it to sessionStorage, come back to `/invite`, and take it out of the address bar
  // too (rule X2). Where storage is refused, keep it as it is.
  function withoutInviteToken(target) {
    if (!target) return target;
    const url = new URL(target, window.location.origin);
    const token = url.searchParams.get('token');
    if (url.pathname !== '/invite' || token === null || !Demo.rememberInviteToken(token)) return target;
    url.searchParams.delete('token');
    const clean = url.pathname + url.search + url.hash;
    params.set('return', clean);
    window.history.replaceState(window.history.state, '', window.location.pathname + '?' + params.toString());
    return clean;
  }

  function selectTab(register) {
    document.getElementById('tab-login').setAttribute('aria-selected', String(!register));
    document.getElementById('tab-register').setAttribute('aria-selected', String(register));
    Demo.show('login-form', !register);
    Demo.show('register-form', register);
    Demo.showError('form-error', null);
    document.getElementById(register ? 'register-name' : 'login-contact').focus();
  }

  function isSuperAdmin(session) {
    return session.memberships.some((m) => m.role === 'super_admin');
  }

  // After signing in: back to the invitation if we came from one, else to the members
  // page of a super admin, else "no enterprise yet".
  function proceed(session) {
    if (returnTo) {
      window.location.assign(returnTo);
    } else if (isSuperAdmin(session)) {
      window.location.assign('/enterprise/members');
    } else {
      renderSignedIn(session);
    }
  }

  // Rule B1: the signed-in user's own invitations, with Accept and Reject by id.
  async function renderMyInvitations() {
    const list = document.getElementById('my-invitations-list');
    let mine;
    try {
      mine = await Demo.api('GET', '/api/invitations/mine');
    } catch (err) {
      Demo.showError('my-invitations-error', err);
      Demo.show('my-invitations', true);
      return;
    }
    Demo.showError('my-invitations-error', null);
    list.replaceChildren(...mine.items.map((item) => {
      const label = `${item.enterprise_name}`;
      const accept = Demo.el('button', {
        class: 'btn btn-small btn-primary', type: 'button', 'data-testid': 'my-invitation-accept',
        'aria-label': `Accept the invitation to ${label}`, text: 'Accept',
      });
      const reject = Demo.el('button', {
        class: 'btn btn-small', type: 'button', 'data-testid': 'my-invitation-reject',
        'aria-label': `Reject the invitation to ${label}`, text: 'Reject',
      });
      accept.addEventListener('click', () => answer(item, 'accept', [accept, reject]));
      reject.addEventListener('click', () => answer(item, 'reject', [accept, reject]));
      return Demo.el('li', { 'data-testid': 'my-invitation', 'data-id': item.id, 'data-enterprise': item.enterprise_name },
        Demo.el('span', {},
          Demo.el('strong', { text: item.enterprise_name }),
          Demo.el('br', {}),
          Demo.el('span', { class: 'desc', text: `from ${item.inviter_name} · expires ${Demo.formatDate(item.expires_at)}` })),
        Demo.roleBadge(item.role),
        Demo.el('span', { class: 'actions' }, accept, reject));
    }));
    Demo.show('my-invitations-empty', mine.items.length === 0);
    Demo.show('my-invitations', true);
  }

  async function answer(item, action, buttons) {
    for (const button of buttons) button.disabled = true;
    Demo.showError('my-invitations-error', null);
    Demo.show('my-invitations-done', false);
    try {
      await Demo.api('POST', `/api/invitations/mine/${encodeURIComponent(item.id)}/${action}`, {});
      const done = document.getElementById('my-invitations-done');
      done.textContent = action === 'accept'
        ? `You joined ${item.enterprise_name}.`
        : `You declined the invitation to ${item.enterprise_name}.`;
      Demo.show(done, true);
      const session = await Demo.me();
      if (session) renderSignedIn(session); else renderSignedOut();
    } catch (err) {
      Demo.showError('my-invitations-error', err);
      for (const button of buttons) button.disabled = false;
    }
  }

  function renderSignedIn(session) {
    document.getElementById('page-title').textContent = 'Your account';
    Demo.renderWho(session, () => window.location.assign(window.location.pathname + window.location.search));
    Demo.show('forms', false);
    Demo.show('return-note', false);
    document.getElementById('signed-in-name').textContent = session.user.name;
    document.getElementById('signed-in-contact').textContent = Demo.contactOf(session.user);
    const list = document.getElementById('membership-list');
    list.replaceChildren(...session.memberships.map((m) => Demo.el('li', {},
      Demo.el('span', {}, Demo.el('strong', { text: m.enterprise_name })), Demo.roleBadge(m.role))));
    Demo.show('no-enterprise', session.memberships.length === 0);
    Demo.show('not-super-admin', session.memberships.length > 0 && !isSuperAdmin(session));
    const next = document.getElementById('continue-link');
    if (returnTo) {
      next.href = returnTo;
      next.textContent = 'Continue to the invitation';
      Demo.show(next, true);
    } else {
      next.href = '/enterprise/members';
      next.textContent = 'Go to Enterprise › Members';
      Demo.show(next, isSuperAdmin(session));
    }
    Demo.show('signed-in', true);
    renderMyInvitations();
  }

  function renderSignedOut() {
    document.getElementById('page-title').textContent = 'Sign in';
    Demo.renderWho(null);
    Demo.show('signed-in', false);
    Demo.show('return-note', Boolean(returnTo));
    Demo.show('forms', true);
    selectTab(params.get('mode') === 'register');
  }

  async function submit(event, path, body, button) {
    event.preventDefault();
    Demo.showError('form-error', null);
    button.disabled = true;
    try {
      proceed(await Demo.api('POST', path, body));
    } catch (err) {
      Demo.showError('form-error', err);
    } finally {
      button.disabled = false;
    }
  }

  document.getElementById('tab-login').addEventListener('click', () => selectTab(false));
  document.getElementById('tab-register').addEventListener('click', () => selectTab(true));
  document.getElementById('login-form').addEventListener('submit', (event) => submit(event, '/login', {
    contact: document.getElementById('login-contact').value.trim(),
  }, document.getElementById('login-submit')));
  document.getElementById('register-form').addEventListener('submit', (event) => submit(event, '/register', {
    name: document.getElementById('register-name').value.trim(),
    contact: document.getElementById('register-contact').value.trim(),
  }, document.getElementById('register-submit')));
  document.getElementById('signed-in-logout').addEventListener('click', async () => {
    try { await Demo.logout(); } catch (_) { /* signed out either way */ }
    renderSignedOut();
  });
  for (const button of document.querySelectorAll('#demo-accounts [data-contact]')) {
    button.addEventListener('click', () => {
      selectTab(false);
      document.getElementById('login-contact').value = button.dataset.contact;
      document.getElementById('login-submit').focus();
    });
  }

  Demo.me().then((session) => {
    if (session) renderSignedIn(session); else renderSignedOut();
  }, (err) => {
    renderSignedOut();
    Demo.showError('form-error', err);
  });
})();
