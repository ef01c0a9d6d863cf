/* hatangso: the forms of the challenges' page (file, answer, decide).
 *
 * Part of hatangso (same licence). The page holds no credential: the user types a token
 * (from `hatangso users add`), which stays in this tab's sessionStorage and goes to the
 * service as `Authorization: Bearer` with each request. GET /api/me says who the token is:
 * the answer forms show on the rows of the user's own operator, the decision forms to
 * officials; anyone may try to file (the service answers who may). The service's answers,
 * its refusals (401, 403, 409, 422) included, are shown as text, never as markup.
 */
(function () {
  'use strict';

  var KEY = 'hatangso.token';
  var api = document.body.dataset.api;
  var user = null;

  function token() {
    try { return window.sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; }
  }

  function remember(value) {
    try {
      if (value) window.sessionStorage.setItem(KEY, value);
      else window.sessionStorage.removeItem(KEY);
    } catch (e) { /* storage refused: the token lasts as long as the page */ }
  }

  function headers(json) {
    var out = {Accept: 'application/json'};
    var t = token();
    if (t) out.Authorization = 'Bearer ' + t;
    if (json) out['Content-Type'] = 'application/json';
    return out;
  }

  function say(text, ok) {
    var box = document.getElementById('message');
    box.hidden = false;
    box.className = ok ? 'ok' : 'error';
    box.textContent = text;
  }

  // The service's error: {"detail": text, "problems": [...]} or FastAPI's list of
  // validation errors {"detail": [{"loc", "msg"}, ...]}.
  function refusal(status, data) {
    var detail = data && data.detail, text;
    if (typeof detail === 'string') {
      text = detail;
    } else if (Array.isArray(detail)) {
      text = detail.map(function (d) {
        var where = (d.loc || []).filter(function (p) { return p !== 'body'; }).join('.');
        return (where ? where + ': ' : '') + d.msg;
      }).join('\n');
    } else {
      text = 'HTTP ' + status;
    }
    return status + ' — ' + text;
  }

  async function call(method, path, payload) {
    var response = await fetch(path, {
      method: method,
      headers: headers(payload !== undefined),
      body: payload === undefined ? undefined : JSON.stringify(payload),
      credentials: 'same-origin'
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error(refusal(response.status, data));
    return data;
  }

  // A CSV file of samples as the list of rows the service takes (texts; it parses them).
  function parseCsv(text) {
    var rows = [], row = [], field = '', quoted = false;
    text = text.replace(/^\uFEFF/, '');
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') {
        quoted = true;
      } else if (c === ',') {
        row.push(field); field = '';
      } else if (c === '\n' || c === '\r') {
        if (c === '\r' && text[i + 1] === '\n') i++;
        row.push(field); field = '';
        rows.push(row); row = [];
      } else {
        field += c;
      }
    }
    if (field !== '' || row.length) { row.push(field); rows.push(row); }
    rows = rows.filter(function (r) { return r.some(function (v) { return v.trim() !== ''; }); });
    if (!rows.length) return [];
    var names = rows[0].map(function (n) { return n.trim(); });
    return rows.slice(1).map(function (r) {
      var out = {};
      names.forEach(function (name, k) {
        var value = (r[k] || '').trim();
        if (name && value !== '') out[name] = value;
      });
      return out;
    });
  }

  async function evidence(form) {
    var out = {}, reference = form.elements.document.value.trim();
    var file = form.elements.samples.files[0];
    if (reference) out.document = reference;
    if (file) out.samples = parseCsv(await file.text());
    return Object.keys(out).length ? out : undefined;
  }

  function note(form) {
    var text = form.elements.note ? form.elements.note.value.trim() : '';
    return text || undefined;
  }

  function show() {
    var role = user && user.role;
    document.querySelectorAll('.answer-form').forEach(function (form) {
      var row = form.closest('tr');
      form.hidden = !(role === 'admin' ||
        (role === 'operator' && user.operator === row.dataset.operator));
    });
    document.querySelectorAll('.decide-form').forEach(function (form) {
      form.hidden = !(role === 'admin' || role === 'official');
    });
  }

  async function whoami() {
    var shown = document.getElementById('whoami');
    try {
      user = await call('GET', '/api/me');
    } catch (error) {
      user = null;
      say(error.message, false);
    }
    if (user && user.role) {
      var parts = [user.role, user.operator, user.province].filter(Boolean);
      shown.textContent = (user.name || '') + ' (' + parts.join(', ') + ')';
    } else {
      shown.textContent = 'Chưa đăng nhập / not signed in';
    }
    show();
  }

  // The listing as the service renders it now (the page itself, fetched again).
  async function refresh() {
    var response = await fetch(window.location.pathname, {headers: headers(false)});
    if (!response.ok) return;
    var page = new DOMParser().parseFromString(await response.text(), 'text/html');
    var fresh = page.getElementById('listing');
    if (fresh) document.getElementById('listing').replaceWith(document.adoptNode(fresh));
    show();
  }

  async function submit(form) {
    if (form.id === 'token-form') {
      remember(form.elements.token.value.trim());
      form.elements.token.value = '';
      document.getElementById('message').hidden = true;
      return whoami();
    }
    var answer;
    if (form.id === 'file-form') {
      answer = await call('POST', api, {
        village_id: form.elements.village_id.value.trim(),
        operator: form.elements.operator.value.trim(),
        tech: form.elements.tech.value,
        claim: form.elements.claim.value,
        evidence: await evidence(form),
        note: note(form)
      });
      say('Đã gửi khiếu nại / Filed: ' + answer.id + ' (' + answer.status + ')', true);
    } else if (form.classList.contains('answer-form')) {
      answer = await call('POST', api + '/' + encodeURIComponent(form.dataset.id) + '/answer', {
        position: form.elements.position.value,
        evidence: await evidence(form),
        note: note(form)
      });
      say('Đã trả lời / Answered: ' + answer.id + ' (' + answer.status + ')', true);
    } else if (form.classList.contains('decide-form')) {
      answer = await call('POST', api + '/' + encodeURIComponent(form.dataset.id) + '/decision', {
        decision: form.elements.decision.value,
        note: note(form)
      });
      say('Đã quyết định / Decided: ' + answer.id + ' (' + answer.decision + ')', true);
    } else {
      return undefined;
    }
    form.reset();
    return refresh();
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    event.preventDefault();
    var buttons = form.querySelectorAll('button');
    buttons.forEach(function (b) { b.disabled = true; });
    submit(form).catch(function (error) {
      say(error.message, false);
    }).finally(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  });

  document.getElementById('token-forget').addEventListener('click', function () {
    remember('');
    document.getElementById('message').hidden = true;
    whoami();
  });

  whoami();
})();
