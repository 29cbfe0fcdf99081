// vdb-server /webui: lists databases, collections (schema, rows, segments, index build
// progress) and the server's configuration, and runs queries by primary key or filter. Plain
// JavaScript, no framework; every value is put on the page as text (textContent), never as
// HTML. Data comes from REST v2 (/v2/vectordb/...) and /webui/api/... with the token the user
// enters, kept in sessionStorage (this tab only) and sent as "Authorization: Bearer".
'use strict';

const TOKEN_KEY = 'vdb-webui-token';
const $ = (id) => document.getElementById(id);
const state = { collections: [], selected: null };

class ApiError extends Error {
  constructor(message, code, http) {
    super(message);
    this.code = code;
    this.http = http;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

// POST body (an object, or JSON text) to path; the "data" of a {"code": 0} answer.
async function call(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  const r = await fetch(path, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body || {}),
    cache: 'no-store',
  });
  let j;
  try {
    j = await r.json();
  } catch (e) {
    throw new ApiError(`HTTP ${r.status} from ${path}`, -1, r.status);
  }
  if (r.status === 401 || j.code === 1800)
    throw new ApiError(j.message || 'not authenticated', 1800, 401);
  if (j.code !== 0)
    throw new ApiError(`${j.message} (code ${j.code})`, j.code, r.status);
  return j.data;
}
const rest = (p, body) => call('/v2/vectordb' + p, body);

// ---- DOM helpers ------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function setStatus(node, text, isError) {
  node.textContent = text;
  node.classList.toggle('error', !!isError);
}

function num(n) {
  return el('td', { class: 'num' }, n === undefined || n === null ? '' : String(n));
}

function kvRows(tbody, pairs) {
  clear(tbody);
  for (const [k, v] of pairs)
    tbody.append(el('tr', { 'data-key': k }, el('th', {}, k), el('td', {}, v)));
}

function showValue(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v) && v.length > 8 && v.every((x) => typeof x === 'number'))
    return `[${v.slice(0, 4).map((x) => +x.toPrecision(4)).join(', ')}, … ${v.length} values]`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function progressCell(indexed, total, stateName) {
  const td = el('td', {});
  const p = el('progress', { max: total || 1, value: total ? indexed : 1 });
  td.append(p, ` ${indexed} / ${total} rows`);
  if (stateName) td.append(' ', el('span', { class: 'tag' }, stateName));
  return td;
}

// ---- what the server holds -------------------------------------------------------------

async function loadCollection(db, name) {
  const scope = { dbName: db, collectionName: name };
  const [schema, seg] = await Promise.all([
    rest('/collections/describe', scope),
    call('/webui/api/segments', scope),
  ]);
  const indexes = [];
  for (const ix of schema.indexes || []) {
    const d = await rest('/indexes/describe', { ...scope, indexName: ix.indexName });
    indexes.push(...d);
  }
  return { db, name, schema, seg, indexes };
}

async function loadAll() {
  let dbs = await rest('/databases/list', {});
  if (!dbs.includes('default')) dbs = ['default', ...dbs];
  const out = [];
  for (const db of dbs) {
    const names = await rest('/collections/list', { dbName: db });
    for (const name of names) {
      try {
        out.push(await loadCollection(db, name));
      } catch (e) {
        if (e.code === 1800) throw e;
        if (e.code !== 100) out.push({ db, name, error: e.message }); // 100: dropped meanwhile
      }
    }
  }
  return { dbs, collections: out };
}

function indexSummary(c) {
  const td = el('td', {});
  if (!c.indexes.length) td.append(el('span', { class: 'muted' }, 'none'));
  for (const ix of c.indexes) {
    const row = el('div', { 'data-index': ix.indexName });
    row.append(`${ix.indexName} ${ix.indexType} `,
      el('progress', { max: ix.totalRows || 1, value: ix.totalRows ? ix.indexedRows : 1 }),
      ` ${ix.indexedRows}/${ix.totalRows} `, el('span', { class: 'tag' }, ix.indexState));
    td.append(row);
  }
  return td;
}

function renderCollections() {
  const tbody = $('collections').tBodies[0];
  clear(tbody);
  for (const c of state.collections) {
    const key = c.db + '.' + c.name;
    const link = el('button', { type: 'button', class: 'link' }, c.name);
    link.addEventListener('click', () => select(key));
    const tr = el('tr', { 'data-collection': key }, el('td', {}, c.db), el('td', {}, link));
    if (c.error) {
      tr.append(el('td', { colSpan: 3, class: 'error' }, c.error));
    } else {
      tr.append(el('td', { class: 'num', 'data-field': 'rows' }, String(c.seg.rowCount)),
        el('td', { class: 'num' }, `${c.seg.growingSegments} / ${c.seg.sealedSegments}`),
        indexSummary(c));
    }
    if (key === state.selected) tr.className = 'selected';
    tbody.append(tr);
  }
  $('no-collections').hidden = state.collections.length > 0;

  const sel = $('search-collection');
  const was = sel.value;
  clear(sel);
  for (const c of state.collections)
    if (!c.error) sel.append(el('option', { value: c.db + '.' + c.name }, `${c.db} / ${c.name}`));
  if ([...sel.options].some((o) => o.value === was)) sel.value = was;
}

function fieldParams(f) {
  const parts = (f.params || []).map((p) => `${p.key}=${p.value}`);
  if (f.elementType) parts.unshift(`element=${f.elementType}`);
  if (f.defaultValue !== undefined) parts.push(`default=${JSON.stringify(f.defaultValue)}`);
  return parts.join(', ');
}

function fieldFlags(f) {
  const td = el('td', {});
  for (const [k, label] of [['primaryKey', 'primary key'], ['autoId', 'auto id'],
    ['partitionKey', 'partition key'], ['nullable', 'nullable']])
    if (f[k]) td.append(el('span', { class: 'tag' }, label));
  return td;
}

async function renderDetail() {
  const c = state.collections.find((x) => x.db + '.' + x.name === state.selected);
  $('detail').hidden = !c || !!c.error;
  if (!c || c.error) return;
  const s = c.schema;
  $('detail-title').textContent = `Collection ${c.db} / ${c.name}`;
  $('detail-summary').textContent = `${c.seg.rowCount} rows, ${s.shardsNum} shard(s), ` +
    `${s.partitionsNum} partition(s), dynamic fields ${s.enableDynamicField ? 'on' : 'off'}` +
    (s.aliases && s.aliases.length ? `, aliases: ${s.aliases.join(', ')}` : '');
  const tb = $('schema').tBodies[0];
  clear(tb);
  for (const f of s.fields)
    tb.append(el('tr', { 'data-field': f.name }, el('td', {}, f.name), el('td', {}, f.type),
      el('td', {}, fieldParams(f)), fieldFlags(f)));

  const ib = $('indexes').tBodies[0];
  clear(ib);
  for (const ix of c.indexes)
    ib.append(el('tr', { 'data-index': ix.indexName }, el('td', {}, ix.indexName),
      el('td', {}, ix.fieldName), el('td', {}, ix.indexType), el('td', {}, ix.metricType || ''),
      el('td', {}, ix.indexState + (ix.failReason ? ': ' + ix.failReason : '')),
      progressCell(ix.indexedRows, ix.totalRows)));
  $('no-indexes').hidden = c.indexes.length > 0;

  const g = c.seg;
  kvRows($('segments').tBodies[0], [
    ['growing segments', `${g.growingSegments} (${g.growingRows} rows)`],
    ['sealed segments', `${g.sealedSegments} (${g.sealedRows} rows)`],
    ['indexed rows (sealed)', String(g.indexedRows)],
    ['index memory', `${g.indexBytes} bytes`],
    ['delete records', String(g.deletedRows)],
    ['failed index builds', String(g.failedIndexBuilds)],
    ['segments read so far', String(g.readSegments)],
  ]);

  const pb = $('partitions').tBodies[0];
  clear(pb);
  const scope = { dbName: c.db, collectionName: c.name };
  try {
    const parts = await rest('/partitions/list', scope);
    for (const p of parts) {
      const st = await rest('/partitions/get_stats', { ...scope, partitionName: p });
      pb.append(el('tr', { 'data-partition': p }, el('td', {}, p), num(st.rowCount)));
    }
  } catch (e) {
    pb.append(el('tr', {}, el('td', { colSpan: 2, class: 'error' }, e.message)));
  }
}

function select(key) {
  state.selected = key;
  for (const tr of $('collections').tBodies[0].rows)
    tr.classList.toggle('selected', tr.dataset.collection === key);
  if (state.collections.some((c) => c.db + '.' + c.name === key)) $('search-collection').value = key;
  renderDetail().then(() => $('detail').scrollIntoView({ block: 'nearest' }));
}

function renderConfig(info) {
  $('version').textContent = `${info.serverVersion} (libvdb ${info.libraryVersion})`;
  const pairs = Object.entries(info.config).map(([k, v]) => [k, v === null ? '(not set: the default)' : String(v)]);
  kvRows($('config').tBodies[0], pairs);
}

function renderDatabases(dbs) {
  const ul = $('databases');
  clear(ul);
  for (const db of dbs) ul.append(el('li', { 'data-db': db }, db));
}

function hide() {
  $('main').hidden = true;
  clear($('collections').tBodies[0]);
  clear($('config').tBodies[0]);
  clear($('hits').tHead);
  clear($('hits').tBodies[0]);
  $('version').textContent = '';
  state.collections = [];
}

async function refresh() {
  setStatus($('status'), 'Loading…');
  try {
    const info = await call('/webui/api/config', {});
    const all = await loadAll();
    renderConfig(info);
    renderDatabases(all.dbs);
    state.collections = all.collections;
    if (!state.collections.some((c) => c.db + '.' + c.name === state.selected))
      state.selected = state.collections.length ? state.collections[0].db + '.' + state.collections[0].name : null;
    renderCollections();
    await renderDetail();
    $('main').hidden = false;
    setStatus($('status'), `Connected${info.auth ? ' (token accepted)' : ''}: ` +
      `${all.dbs.length} database(s), ${state.collections.length} collection(s), ` +
      `as of ${new Date().toLocaleTimeString()}.`);
  } catch (e) {
    hide();
    if (e.code === 1800)
      setStatus($('status'), token() ? 'The token was refused: enter the right one above.'
        : 'This server needs a token: enter it above.', true);
    else setStatus($('status'), 'Error: ' + e.message, true);
  }
}

// ---- queries ------------------------------------------------------------------------------

function pkBody(c, text, limit) {
  const pk = c.schema.fields.find((f) => f.primaryKey);
  const keys = text.split(',').map((s) => s.trim()).filter((s) => s.length);
  if (!keys.length) throw new ApiError('enter one primary key, or several separated by commas', -1);
  const head = JSON.stringify({ dbName: c.db, collectionName: c.name, outputFields: ['*'] });
  let ids;
  if (pk && pk.type === 'Int64') {
    for (const k of keys)
      if (!/^-?\d+$/.test(k)) throw new ApiError(`'${k}' is not an Int64 primary key`, -1);
    ids = keys.join(','); // as written: a JavaScript number would round keys past 2^53
  } else {
    ids = keys.map((k) => JSON.stringify(k)).join(',');
  }
  if (keys.length > limit) throw new ApiError(`${keys.length} keys: over the limit of ${limit}`, -1);
  return head.slice(0, -1) + `,"id":[${ids}]}`;
}

function renderHits(c, rows) {
  const table = $('hits');
  clear(table.tHead);
  clear(table.tBodies[0]);
  const cols = [];
  const pk = c.schema.fields.find((f) => f.primaryKey);
  if (pk) cols.push(pk.name);
  for (const f of c.schema.fields) if (!cols.includes(f.name)) cols.push(f.name);
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const shown = cols.filter((k) => rows.some((r) => k in r));
  table.tHead.append(el('tr', {}, ...shown.map((k) => el('th', {}, k))));
  for (const r of rows)
    table.tBodies[0].append(el('tr', { class: 'hit' },
      ...shown.map((k) => el('td', { 'data-field': k }, showValue(r[k])))));
}

async function runSearch(ev) {
  ev.preventDefault();
  const status = $('search-status');
  const c = state.collections.find((x) => x.db + '.' + x.name === $('search-collection').value);
  if (!c) {
    setStatus(status, 'Pick a collection first.', true);
    return;
  }
  const mode = $('search-mode').value;
  const text = $('search-text').value.trim();
  const limit = Math.max(1, Math.min(16384, parseInt($('search-limit').value, 10) || 20));
  setStatus(status, 'Running…');
  try {
    let rows;
    if (mode === 'pk') {
      rows = await rest('/entities/get', pkBody(c, text, limit));
    } else {
      rows = await rest('/entities/query', { dbName: c.db, collectionName: c.name, filter: text,
        limit, outputFields: ['*'] });
    }
    renderHits(c, rows);
    setStatus(status, `${rows.length} hit(s) in ${c.db} / ${c.name} ` +
      (mode === 'pk' ? `for primary key ${text}` : text ? `for filter ${text}` : '(no filter)') + '.');
  } catch (e) {
    clear($('hits').tHead);
    clear($('hits').tBodies[0]);
    if (e.code === 1800) {
      refresh();
      return;
    }
    setStatus(status, 'Error: ' + e.message, true);
  }
}

function setMode() {
  $('search-text').placeholder = $('search-mode').value === 'pk' ? '42 or 1, 2, 3'
    : 'age > 20 and color == "red"';
}

document.addEventListener('DOMContentLoaded', () => {
  $('token').value = token();
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
    refresh();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    refresh();
  });
  $('refresh').addEventListener('click', refresh);
  $('search').addEventListener('submit', runSearch);
  $('search-mode').addEventListener('change', setMode);
  setMode();
  refresh();
});
