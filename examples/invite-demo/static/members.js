// invite-rs demo: Enterprise > Members, the invite drawer and the Invitation Records.
'use strict';

(() => {
  const PAGE_SIZE = 10;
  // Rule B2: one bulk request takes 1 to 100 rows.
  const BULK_MAX = 100;
  const DEFAULT_ROLES = ['finance_admin', 'dev_admin', 'member'].map((role) => ({
    role, description: Demo.ROLE_DESCRIPTIONS[role],
  }));
  const state = {
    enterprise: null, // {id, name, certified}
    status: '',
    cursors: [null], // cursor of each page seen so far; the last is the current page
    nextCursor: null,
  };

  const $ = (id) => document.getElementById(id);
  const api = (method, path, body) => Demo.api(method, path, body);
  const invitationsPath = () => '/api/enterprises/' + encodeURIComponent(state.enterprise.id) + '/invitations';

  // Create and resend answer the invitation with its one-time link.
  const invitationOf = (data) => (data && data.invitation) || data;

  function pageError(err) {
    Demo.showError('page-error', err);
  }

  // ---- members ---------------------------------------------------------------------------

  async function loadMembers() {
    const data = await api('GET', '/me/enterprises/' + encodeURIComponent(state.enterprise.id) + '/members');
    state.enterprise = data.enterprise;
    $('enterprise-name').textContent = data.enterprise.name;
    const badge = $('enterprise-certified');
    badge.textContent = data.enterprise.certified ? 'Certified' : 'Not certified';
    badge.className = 'badge ' + (data.enterprise.certified ? 'badge-ok' : 'badge-warn');
    Demo.show('invite-uncertified', !data.enterprise.certified);
    const rows = data.members.map((m) => Demo.el('tr', { 'data-testid': 'member-row' },
      Demo.el('td', {}, Demo.el('span', { class: 'person' },
        Demo.el('span', { class: 'avatar', text: (m.user.name || '?').slice(0, 1).toUpperCase() }),
        m.user.name)),
      Demo.el('td', { text: Demo.contactOf(m.user) }),
      Demo.el('td', {}, Demo.roleBadge(m.role))));
    $('members-table').tBodies[0].replaceChildren(...rows);
    renderRoles(data.assignable_roles && data.assignable_roles.length ? data.assignable_roles : DEFAULT_ROLES);
  }

  function renderRoles(roles) {
    const options = roles.map((r, index) => Demo.el('label', { class: 'role-option', 'data-testid': 'role-' + r.role },
      Demo.el('input', { type: 'radio', name: 'role', value: r.role, checked: index === roles.length - 1 }),
      Demo.el('span', {},
        Demo.el('span', { class: 'name', text: r.role }),
        Demo.el('span', { class: 'desc', text: r.description || Demo.ROLE_DESCRIPTIONS[r.role] || '' }))));
    $('role-options').replaceChildren(...options);
  }

  // ---- invitation records ----------------------------------------------------------------

  async function loadRecords() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.status) params.set('status', state.status);
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) params.set('cursor', cursor);
    const tbody = $('records-table').tBodies[0];
    let page;
    try {
      page = await api('GET', invitationsPath() + '?' + params.toString());
    } catch (err) {
      tbody.replaceChildren(Demo.el('tr', {}, Demo.el('td', { class: 'empty', colspan: '7', text: err.message })));
      return;
    }
    state.nextCursor = page.next_cursor || null;
    const items = page.items || [];
    if (items.length === 0) {
      tbody.replaceChildren(Demo.el('tr', {}, Demo.el('td', {
        class: 'empty', colspan: '7', 'data-testid': 'records-empty',
        text: state.status ? 'No invitations with this status.' : 'No invitations yet. Click Invite to send one.',
      })));
    } else {
      tbody.replaceChildren(...items.map(recordRow));
    }
    $('records-prev').disabled = state.cursors.length <= 1;
    $('records-next').disabled = !state.nextCursor;
    $('records-page').textContent = 'Page ' + state.cursors.length;
  }

  function recordRow(inv) {
    const actions = Demo.el('td', { class: 'actions' });
    if (inv.status === 'pending') {
      actions.append(Demo.el('button', {
        class: 'btn btn-small btn-danger', type: 'button', 'data-testid': 'record-revoke',
        onclick: (event) => revoke(inv, event.currentTarget),
      }, 'Revoke'));
    }
    if (inv.status === 'pending' || inv.status === 'expired') {
      actions.append(Demo.el('button', {
        class: 'btn btn-small', type: 'button', 'data-testid': 'record-resend',
        onclick: (event) => resend(inv, event.currentTarget),
      }, 'Resend'));
    }
    return Demo.el('tr', {
      'data-testid': 'record-row', 'data-invitation-id': inv.id, 'data-contact': inv.contact, 'data-status': inv.status,
    },
    Demo.el('td', { 'data-testid': 'record-contact', text: inv.contact }),
    Demo.el('td', {}, Demo.roleBadge(inv.role)),
    Demo.el('td', { 'data-testid': 'record-status' }, Demo.statusBadge(inv.status)),
    Demo.el('td', { text: Demo.formatDate(inv.sent_at) }),
    Demo.el('td', { text: Demo.formatDate(inv.expires_at) }),
    Demo.el('td', {
      'data-testid': 'record-delivery', 'data-delivery': inv.delivery,
      'data-attempts': String(inv.delivery_attempts ?? 0),
      title: 'Delivery of the current link: ' + inv.delivery + ', attempts: ' + (inv.delivery_attempts ?? 0),
      text: inv.delivery + (inv.delivery_attempts > 0
        ? ' · ' + inv.delivery_attempts + (inv.delivery_attempts === 1 ? ' attempt' : ' attempts') : ''),
    }),
    actions);
  }

  function notice(kind, text) {
    const node = $('records-notice');
    node.className = 'alert alert-' + kind;
    node.textContent = text;
    node.hidden = false;
  }

  function reloadFirstPage() {
    state.cursors = [null];
    return loadRecords();
  }

  async function revoke(inv, button) {
    button.disabled = true;
    Demo.show('resend-panel', false);
    try {
      await api('POST', invitationsPath() + '/' + encodeURIComponent(inv.id) + '/revoke', {});
      notice('ok', 'Invitation to ' + inv.contact + ' revoked. Its link no longer works.');
    } catch (err) {
      notice('error', err.message);
    }
    await loadRecords();
  }

  async function resend(inv, button) {
    button.disabled = true;
    Demo.show('records-notice', false);
    try {
      const data = await api('POST', invitationsPath() + '/' + encodeURIComponent(inv.id) + '/resend', {});
      $('resend-contact').textContent = invitationOf(data).contact || inv.contact;
      $('resend-link').value = data.invite_url || '';
      Demo.show('resend-panel', true);
    } catch (err) {
      notice('error', err.message);
    }
    await loadRecords();
  }

  // ---- the drawer ------------------------------------------------------------------------

  // Whatever sits behind the open drawer is inert: no focus, no clicks, not read out.
  const BACKGROUND = () => [document.querySelector('.topbar'), document.querySelector('.layout')];

  function openDrawer() {
    Demo.showError('invite-error', null);
    Demo.show('invite-link-panel', false);
    clearBulkResults();
    $('invite-contact').value = '';
    $('invite-send').disabled = false;
    for (const node of BACKGROUND()) if (node) node.inert = true;
    Demo.show('drawer-overlay', true);
    Demo.show('invite-drawer', true);
    (bulkMode() ? $('invite-contacts') : $('invite-contact')).focus();
  }

  function closeDrawer() {
    for (const node of BACKGROUND()) if (node) node.inert = false;
    Demo.show('drawer-overlay', false);
    Demo.show('invite-drawer', false);
    $('invite-link').value = '';
    clearBulkResults();
    $('invite-open').focus();
  }

  function selectedRole() {
    const checked = document.querySelector('#role-options input[name=role]:checked');
    return checked ? checked.value : '';
  }

  function bulkMode() {
    const checked = document.querySelector('#invite-mode input[name=mode]:checked');
    return Boolean(checked && checked.value === 'many');
  }

  // One person or many: the fields, the role's label and the button say which.
  function applyMode() {
    const many = bulkMode();
    Demo.show('invite-single', !many);
    Demo.show('invite-many', many);
    $('invite-drawer').classList.toggle('wide', many);
    $('role-label').textContent = many ? 'Role for lines without one' : 'Select Role';
    $('invite-send').textContent = many ? 'Send Invitations' : 'Send Invitation';
    Demo.showError('invite-error', null);
    Demo.show('invite-link-panel', false);
  }

  async function sendInvitation(event) {
    event.preventDefault();
    if (bulkMode()) {
      await sendMany();
      return;
    }
    Demo.showError('invite-error', null);
    Demo.show('invite-link-panel', false);
    const body = { contact: $('invite-contact').value.trim(), role: selectedRole() };
    const button = $('invite-send');
    button.disabled = true;
    try {
      const data = await api('POST', invitationsPath(), body);
      const inv = invitationOf(data);
      $('invite-sent-to').textContent = inv.contact || body.contact;
      $('invite-expires').textContent = Demo.formatDate(inv.expires_at);
      $('invite-link').value = data.invite_url || '';
      Demo.show('invite-link-panel', true);
      $('invite-contact').value = '';
      Demo.show('resend-panel', false);
      Demo.show('records-notice', false);
      await reloadFirstPage();
    } catch (err) {
      Demo.showError('invite-error', err);
    } finally {
      button.disabled = false;
    }
  }

  // ---- many at once (rule B2) ------------------------------------------------------------

  // The fields of one CSV line: commas separate, double quotes may wrap a field ("" is a
  // quote inside one), spaces around a field are dropped.
  function csvFields(line) {
    const fields = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"' && field.trim() === '') {
        quoted = true;
        field = '';
      } else if (c === ',') {
        fields.push(field.trim());
        field = '';
      } else {
        field += c;
      }
    }
    fields.push(field.trim());
    return fields;
  }

  // The rows of the textarea: one per non-empty line, `contact` or `contact,role` (an empty
  // role is the default one); a first line `contact,role` is a header. A line with more
  // columns is sent as it is, and the server answers it as a row of the wrong shape.
  function parseRows(text, defaultRole) {
    const rows = [];
    let first = true;
    text.split(/\r\n|\n|\r/).forEach((raw, index) => {
      const line = raw.trim();
      if (line === '') return;
      const fields = csvFields(line);
      const header = first && /^contact$/i.test(fields[0])
        && (fields.length === 1 || (fields.length === 2 && /^role$/i.test(fields[1])));
      first = false;
      if (header) return;
      const row = { line: index + 1, text: line, contact: fields[0], role: fields[1] || defaultRole };
      if (fields.length > 2) row.extra = fields.slice(2);
      rows.push(row);
    });
    return rows;
  }

  // A message of the page itself (not an answer of the server) in the drawer's alert.
  function drawerError(text) {
    const node = $('invite-error');
    node.textContent = text;
    node.hidden = false;
  }

  function clearBulkResults() {
    $('bulk-summary').textContent = '';
    $('bulk-results-table').tBodies[0].replaceChildren();
    Demo.show('bulk-results', false);
  }

  async function sendMany() {
    Demo.showError('invite-error', null);
    Demo.show('invite-link-panel', false);
    clearBulkResults();
    const rows = parseRows($('invite-contacts').value, selectedRole());
    if (rows.length === 0) {
      drawerError('Enter at least one email or phone, one per line.');
      $('invite-contacts').focus();
      return;
    }
    if (rows.length > BULK_MAX) {
      drawerError(`You entered ${rows.length} contacts; up to ${BULK_MAX} can be sent at once. `
        + 'Nothing was sent: split the list and send each part.');
      $('invite-contacts').focus();
      return;
    }
    const button = $('invite-send');
    button.disabled = true;
    let data;
    try {
      data = await api('POST', invitationsPath() + '/bulk', {
        invitations: rows.map((row) => (row.extra
          ? { contact: row.contact, role: row.role, extra: row.extra }
          : { contact: row.contact, role: row.role })),
      });
    } catch (err) {
      Demo.showError('invite-error', err);
      button.disabled = false;
      return;
    }
    const results = (data && data.results) || [];
    const failed = [];
    const seen = new Map();
    const tableRows = rows.map((row, index) => {
      const result = results[index] || { error: { code: 'internal' } };
      const key = row.contact.toLowerCase();
      const earlier = seen.get(key);
      if (earlier === undefined) seen.set(key, row.line);
      if (result.error) failed.push(row);
      return bulkResultRow(row, result, earlier);
    });
    $('bulk-results-table').tBodies[0].replaceChildren(...tableRows);
    const sent = rows.length - failed.length;
    let summary = `${sent} of ${rows.length} ${rows.length === 1 ? 'invitation' : 'invitations'} sent`;
    if (failed.length > 0) {
      summary += `; ${failed.length} refused. The refused lines are left in the box to correct and send again.`;
      $('invite-contacts').value = failed.map((row) => row.text).join('\n');
    } else {
      summary += '.';
      $('invite-contacts').value = '';
    }
    Demo.show('bulk-results', true);
    $('bulk-summary').textContent = summary;
    $('bulk-summary').scrollIntoView({ block: 'start' });
    Demo.show('resend-panel', false);
    Demo.show('records-notice', false);
    button.disabled = false;
    await reloadFirstPage();
  }

  // One line's result: created with its one-time link, or the error code and what it means.
  function bulkResultRow(row, result, earlierLine) {
    const cell = Demo.el('td', { class: 'bulk-outcome' });
    if (result.error) {
      const code = result.error.code || 'internal';
      let message = Demo.messageFor(code);
      if (code === 'duplicate_pending' && earlierLine !== undefined) {
        message = `This contact is already on line ${earlierLine} of this list.`;
      } else if (code === 'invalid_request' && row.extra) {
        message = 'This line has more than two columns; write contact,role.';
      }
      cell.append(
        Demo.el('span', { class: 'badge badge-error', 'data-testid': 'bulk-result-code', text: code }),
        Demo.el('span', { class: 'bulk-message', 'data-testid': 'bulk-result-message', text: message }));
    } else {
      const link = Demo.el('input', {
        type: 'text', readonly: true, value: result.invite_url || '', 'data-testid': 'bulk-result-link',
        'aria-label': 'Invitation link for ' + row.contact,
      });
      const copy = Demo.el('button', {
        class: 'btn btn-small', type: 'button', 'aria-label': 'Copy the link for ' + row.contact,
        onclick: (event) => Demo.copyToClipboard(link, event.currentTarget),
      }, 'Copy');
      cell.append(
        Demo.el('span', { class: 'badge badge-created', 'data-testid': 'bulk-result-code', text: 'Created' }),
        Demo.el('span', { class: 'link-box' }, link, copy));
    }
    const invitation = result.invitation || {};
    return Demo.el('tr', {
      'data-testid': 'bulk-result', 'data-line': String(row.line), 'data-contact': row.contact,
      'data-outcome': result.error ? 'error' : 'created', 'data-code': result.error ? result.error.code : 'created',
    },
    Demo.el('td', { text: String(row.line) }),
    Demo.el('td', { class: 'bulk-contact', text: invitation.contact || row.contact }),
    Demo.el('td', {}, Demo.roleBadge(invitation.role || row.role)),
    cell);
  }

  // ---- start -----------------------------------------------------------------------------

  async function start() {
    const session = await Demo.me();
    if (!session) {
      window.location.assign(Demo.signInUrl('/enterprise/members'));
      return;
    }
    Demo.renderWho(session);
    const admin = session.memberships.filter((m) => m.role === 'super_admin');
    if (admin.length === 0) {
      Demo.show('not-admin', true);
      return;
    }
    const wanted = new URLSearchParams(window.location.search).get('enterprise');
    const chosen = admin.find((m) => m.enterprise_id === wanted) || admin[0];
    state.enterprise = { id: chosen.enterprise_id, name: chosen.enterprise_name, certified: true };
    if (admin.length > 1) {
      const select = $('enterprise-select');
      select.replaceChildren(...admin.map((m) => Demo.el('option', {
        value: m.enterprise_id, selected: m.enterprise_id === chosen.enterprise_id, text: m.enterprise_name,
      })));
      select.addEventListener('change', () => {
        window.location.assign('/enterprise/members?enterprise=' + encodeURIComponent(select.value));
      });
      Demo.show(select, true);
    }
    await loadMembers();
    Demo.show('members-page', true);
    await loadRecords();
  }

  $('invite-open').addEventListener('click', openDrawer);
  $('drawer-close').addEventListener('click', closeDrawer);
  $('drawer-cancel').addEventListener('click', closeDrawer);
  $('drawer-overlay').addEventListener('click', closeDrawer);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !$('invite-drawer').hidden) closeDrawer();
  });
  $('invite-form').addEventListener('submit', sendInvitation);
  for (const radio of document.querySelectorAll('#invite-mode input[name=mode]')) {
    radio.addEventListener('change', () => {
      applyMode();
      (bulkMode() ? $('invite-contacts') : $('invite-contact')).focus();
    });
  }
  $('invite-copy').addEventListener('click', (event) => Demo.copyToClipboard($('invite-link'), event.currentTarget));
  $('resend-copy').addEventListener('click', (event) => Demo.copyToClipboard($('resend-link'), event.currentTarget));
  $('records-status').addEventListener('change', (event) => {
    state.status = event.target.value;
    reloadFirstPage();
  });
  $('records-next').addEventListener('click', () => {
    if (!state.nextCursor) return;
    state.cursors.push(state.nextCursor);
    loadRecords();
  });
  $('records-prev').addEventListener('click', () => {
    if (state.cursors.length <= 1) return;
    state.cursors.pop();
    loadRecords();
  });

  start().catch(pageError);
})();
