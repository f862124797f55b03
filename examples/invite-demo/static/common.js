// invite-rs demo: helpers shared by the pages. Plain JavaScript, no build step.
'use strict';

const Demo = (() => {
  // API error codes (rules §6) and the demo sign-in's own, as sentences for people.
  const MESSAGES = {
    invalid_request: 'The request was not understood. Check the fields and try again.',
    not_authenticated: 'Please sign in first.',
    forbidden: 'Only a super admin of this enterprise can do that.',
    enterprise_not_certified: 'This enterprise is not certified yet, so it cannot invite members or accept new ones.',
    account_mismatch: 'This invitation was sent to a different email or phone than the account you are signed in with.',
    not_found: 'That invitation no longer exists.',
    already_member: 'This person is already a member of the enterprise.',
    duplicate_pending: 'A pending invitation to this contact already exists. Use Resend in the Invitation Records instead.',
    invitation_not_pending: 'This invitation is no longer pending, so it cannot be changed.',
    already_accepted: 'This invitation has already been accepted.',
    already_rejected: 'This invitation has already been rejected.',
    invalid_or_expired: 'This invitation link is invalid or has expired.',
    invalid_contact: 'Enter one valid email address, or one phone number with its country code (for example +14155550100).',
    role_not_assignable: 'That role cannot be assigned through an invitation.',
    rate_limited: 'Too many attempts. Wait a moment and try again.',
    internal: 'Something went wrong on the server. Please try again.',
    unknown_account: 'No account uses this email or phone. Register to create one.',
    account_exists: 'An account with this email or phone already exists. Sign in instead.',
    network: 'Could not reach the server. Is invite-demo still running?',
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function messageFor(code) {
    return MESSAGES[code] || MESSAGES.internal;
  }

  // Calls the JSON API; resolves with the body, rejects with an ApiError whose message is
  // readable (never a bare code). Every POST sends a JSON body with the JSON content type
  // (`{}` where there is nothing to say): the server refuses anything else (415), which is
  // what keeps cross-site forms from changing state.
  async function api(method, path, body) {
    const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (_) {
      throw new ApiError(0, 'network', messageFor('network'));
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!response.ok) {
      const code = (data && data.error && data.error.code) || 'internal';
      throw new ApiError(response.status, code, messageFor(code));
    }
    return data;
  }

  // The signed-in user and memberships, or null when signed out.
  async function me() {
    try {
      return await api('GET', '/me');
    } catch (err) {
      if (err.status === 401) return null;
      throw err;
    }
  }

  async function logout() {
    await api('POST', '/logout', {});
  }

  // Only a path of this site may be a return target (no open redirect): it must start with
  // one slash and resolve, as the browser reads it, to this origin. The check runs on the
  // resolved URL too: `/.//evil.com`, `/%2e//evil.com` and `/./\evil.com` resolve to the
  // path `//evil.com`, which the browser would read as another site once handed back.
  function safeReturn(value) {
    if (typeof value !== 'string' || !value.startsWith('/') || /^\/[\/\\]/.test(value)) return null;
    let url;
    try {
      url = new URL(value, window.location.origin);
    } catch (_) {
      return null;
    }
    if (url.origin !== window.location.origin) return null;
    if (/^\/[\/\\]/.test(url.pathname)) return null;
    return url.pathname + url.search + url.hash;
  }

  // The token of the invitation this tab is looking at. It lives in sessionStorage (this
  // tab only, kept across a reload and the trip through sign-in), never in a URL once read
  // (rule X2). Both answer false/'' where the browser refuses storage.
  const INVITE_TOKEN_KEY = 'invite-demo.invite-token';

  function rememberInviteToken(token) {
    try {
      window.sessionStorage.setItem(INVITE_TOKEN_KEY, token);
      return window.sessionStorage.getItem(INVITE_TOKEN_KEY) === token;
    } catch (_) {
      return false;
    }
  }

  function rememberedInviteToken() {
    try {
      return window.sessionStorage.getItem(INVITE_TOKEN_KEY) || '';
    } catch (_) {
      return '';
    }
  }

  function signInUrl(returnTo, register) {
    const params = new URLSearchParams();
    if (register) params.set('mode', 'register');
    if (returnTo) params.set('return', returnTo);
    const query = params.toString();
    return query ? '/?' + query : '/';
  }

  function contactOf(user) {
    return (user && (user.email || user.phone)) || '';
  }

  // Builds an element; children are text or nodes (text is never parsed as HTML).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(node, visible) {
    if (typeof node === 'string') node = document.getElementById(node);
    if (node) node.hidden = !visible;
  }

  function showError(id, err) {
    const node = document.getElementById(id);
    if (!node) return;
    if (err) {
      node.textContent = err instanceof ApiError ? err.message : messageFor('internal');
      node.hidden = false;
    } else {
      node.textContent = '';
      node.hidden = true;
    }
  }

  function formatDate(iso) {
    if (!iso) return '';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleString(undefined, {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  const STATUS_LABELS = {
    pending: 'Pending', accepted: 'Accepted', rejected: 'Rejected', expired: 'Expired', revoked: 'Revoked',
  };

  function statusBadge(status) {
    return el('span', { class: 'badge badge-' + status, 'data-status': status, text: STATUS_LABELS[status] || status });
  }

  function roleBadge(role) {
    return el('span', { class: 'badge badge-role', text: role });
  }

  const ROLE_DESCRIPTIONS = {
    super_admin: 'Owns the enterprise and manages its members.',
    finance_admin: 'Manages billing and financial operations.',
    dev_admin: 'Manages applications, API keys and logs.',
    member: 'Basic access to assigned resources.',
  };

  // Fills the top bar: who is signed in, and a sign-out button.
  function renderWho(session, afterLogout) {
    const who = document.getElementById('who');
    if (!who) return;
    who.replaceChildren();
    if (!session) {
      who.append(el('span', { 'data-testid': 'who-signed-out', text: 'Not signed in' }));
      return;
    }
    const user = session.user;
    who.append(
      el('span', { 'data-testid': 'who-name' }, 'Signed in as ', el('strong', { text: user.name }), ' (' + contactOf(user) + ')'),
      el('button', {
        class: 'btn btn-small', type: 'button', id: 'logout', 'data-testid': 'logout',
        onclick: async () => {
          try { await logout(); } catch (_) { /* signed out either way */ }
          if (afterLogout) afterLogout(); else window.location.assign('/');
        },
      }, 'Sign out'),
    );
  }

  async function copyToClipboard(input, button) {
    input.select();
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(input.value);
        copied = true;
      }
    } catch (_) { copied = false; }
    if (!copied) {
      try { copied = document.execCommand('copy'); } catch (_) { copied = false; }
    }
    const before = button.textContent;
    button.textContent = copied ? 'Copied' : 'Select and copy';
    setTimeout(() => { button.textContent = before; }, 1500);
  }

  return {
    ApiError, api, me, logout, safeReturn, signInUrl, rememberInviteToken, rememberedInviteToken,
    contactOf, el, show, showError,
    formatDate, statusBadge, roleBadge, ROLE_DESCRIPTIONS, renderWho, copyToClipboard, messageFor,
  };
})();
