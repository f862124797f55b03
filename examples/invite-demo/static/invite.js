// invite-rs demo: the invitee page (rule A1–A4). It shows Loading while it verifies the
// token with POST /api/invitations/view (the token travels in the body, rule X2).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // rule X2: the token of `/invite?token=…` moves from the address bar (and this history
  // entry) to this tab's sessionStorage, where a reload and the way back from sign-in find
  // it. Only a browser that refuses storage keeps it in the URL, as it would otherwise be
  // lost.
  function takeToken() {
    const url = new URL(window.location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl === null) return Demo.rememberedInviteToken();
    if (!Demo.rememberInviteToken(fromUrl)) return fromUrl;
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }

  const token = takeToken();
  // Where sign-in comes back to: this page as it is now, without the token.
  const here = window.location.pathname + window.location.search;
  const STATES = ['loading', 'invitation-info', 'accepted', 'rejected', 'invalid-or-expired', 'error'];
  let session = null;

  function setState(name) {
    for (const state of STATES) Demo.show('state-' + state, state === name);
    $('invite-card').dataset.state = name.replaceAll('-', '_');
  }

  function renderInfo(view) {
    const info = view.invitation;
    $('info-inviter').textContent = info.inviter_name;
    $('info-inviter-2').textContent = info.inviter_name;
    $('info-enterprise').textContent = info.enterprise_name;
    $('info-enterprise-inline').textContent = info.enterprise_name;
    $('info-role').textContent = info.role;
    $('info-role-desc').textContent = info.role + ': ' + (Demo.ROLE_DESCRIPTIONS[info.role] || '');
    $('info-contact').textContent = info.contact_masked;
    $('info-expires').textContent = Demo.formatDate(info.expires_at);
    $('signed-out-contact').textContent = info.contact_masked;
    $('mismatch-invited').textContent = info.contact_masked;
    $('mismatch-current').textContent = session
      ? session.user.name + ' (' + Demo.contactOf(session.user) + ')'
      : 'another account';
    // rule A2: signed out, Login and Register; A3: matching, Accept and Reject;
    // A4: another account, the warning and neither.
    Demo.show('actions-signed-out', view.viewer === 'signed_out');
    Demo.show('actions-matching', view.viewer === 'matching');
    Demo.show('mismatch-warning', view.viewer === 'mismatch');
    $('invite-card').dataset.viewer = view.viewer;
    $('btn-login').href = Demo.signInUrl(here, false);
    $('btn-register').href = Demo.signInUrl(here, true);
    setState('invitation-info');
  }

  function render(view) {
    Demo.renderWho(session, () => window.location.reload());
    switch (view.state) {
      case 'invitation_info': renderInfo(view); break;
      case 'accepted': setState('accepted'); break;
      case 'rejected': setState('rejected'); break;
      default: setState('invalid-or-expired');
    }
  }

  async function verify() {
    setState('loading');
    Demo.showError('action-error', null);
    if (!token) {
      Demo.renderWho(session);
      setState('invalid-or-expired');
      return;
    }
    render(await Demo.api('POST', '/api/invitations/view', { token }));
  }

  // After a refused answer, show why, then what the invitation is now.
  async function answer(path, onDone) {
    Demo.showError('action-error', null);
    $('btn-accept').disabled = true;
    $('btn-reject').disabled = true;
    try {
      onDone(await Demo.api('POST', path, { token }));
    } catch (err) {
      const code = err.code;
      if (code === 'already_accepted') setState('accepted');
      else if (code === 'already_rejected') setState('rejected');
      else if (code === 'invalid_or_expired') setState('invalid-or-expired');
      else Demo.showError('action-error', err);
    } finally {
      $('btn-accept').disabled = false;
      $('btn-reject').disabled = false;
    }
  }

  $('btn-accept').addEventListener('click', () => answer('/api/invitations/accept', (result) => {
    const enterprise = (result && result.enterprise_name) || $('info-enterprise').textContent;
    const role = (result && result.role) || $('info-role').textContent;
    $('accepted-message').textContent = 'You joined ' + enterprise + ' as ' + role + '.';
    setState('accepted');
  }));
  $('btn-reject').addEventListener('click', () => answer('/api/invitations/reject', () => {
    $('rejected-message').textContent = 'You declined the invitation to join ' + $('info-enterprise').textContent + '.';
    setState('rejected');
  }));
  // The page could not ask (server down, rate limited): say so, offer to try again.
  async function verifyOrExplain() {
    try {
      await verify();
    } catch (err) {
      Demo.renderWho(session);
      $('error-message').textContent = err.message;
      setState('error');
    }
  }

  $('btn-retry').addEventListener('click', verifyOrExplain);
  $('btn-switch-account').addEventListener('click', async () => {
    try { await Demo.logout(); } catch (_) { /* signed out either way */ }
    window.location.assign(Demo.signInUrl(here, false));
  });

  (async () => {
    try {
      session = await Demo.me();
    } catch (_) {
      session = null;
    }
    await verifyOrExplain();
  })();
})();
