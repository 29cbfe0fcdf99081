// vdb-server's /webui in a real browser: Debian's chromium, headless, driven by playwright-core.
// run_webui.sh starts the server with a token and sets VDB_ENDPOINT, VDB_TOKEN, VDB_CHROMIUM and
// VDB_WEBUI_OUT (the folder the screenshot goes to). The data is made over REST first; the page
// must show it only once the token is entered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.VDB_ENDPOINT;
const token = process.env.VDB_TOKEN;
const out = process.env.VDB_WEBUI_OUT;
assert.ok(base && token && out, 'VDB_ENDPOINT, VDB_TOKEN and VDB_WEBUI_OUT must be set');

const DIM = 4;
const ROWS = 10;

async function rest(p, body, tok = token) {
  const headers = { 'Content-Type': 'application/json' };
  if (tok) headers.Authorization = 'Bearer ' + tok;
  const r = await fetch(base + p, { method: 'POST', headers, body: JSON.stringify(body) });
  return { http: r.status, ...(await r.json()) };
}

async function ok(p, body) {
  const r = await rest(p, body);
  assert.equal(r.code, 0, `${p}: ${JSON.stringify(r)}`);
  return r.data;
}

let browser;
let page;
const problems = []; // console errors, page errors, CSP violations: none is expected

before(async () => {
  await ok('/v2/vectordb/collections/create', {
    collectionName: 'books',
    schema: {
      fields: [
        { fieldName: 'id', dataType: 'Int64', isPrimary: true },
        { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 } },
        { fieldName: 'year', dataType: 'Int64' },
        { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: DIM } },
      ],
    },
    indexParams: [{ fieldName: 'vector', indexType: 'HNSW', metricType: 'L2',
      params: { M: 8, efConstruction: 64 } }],
  });
  const rows = [];
  for (let i = 0; i < ROWS; i++)
    rows.push({ id: i, title: `book ${i}`, year: 2000 + i,
      vector: Array.from({ length: DIM }, (_, j) => Math.sin(i * 3.1 + j)) });
  const ins = await ok('/v2/vectordb/entities/insert', { collectionName: 'books', data: rows });
  assert.equal(ins.insertCount, ROWS);
  // sealed, so the HNSW index builds; waited for so that the page's progress is known
  await ok('/v2/vectordb/collections/flush', { collectionName: 'books' });
  for (;;) {
    const [ix] = await ok('/v2/vectordb/indexes/describe', { collectionName: 'books',
      indexName: 'vector' });
    assert.notEqual(ix.indexState, 'Failed', JSON.stringify(ix));
    if (ix.indexState === 'Finished') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // a second database with a collection of its own
  await ok('/v2/vectordb/databases/create', { dbName: 'shop' });
  await ok('/v2/vectordb/collections/create', { dbName: 'shop', collectionName: 'orders',
    dimension: 2 });

  browser = await chromium.launch({ executablePath: process.env.VDB_CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push('console: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
});

after(async () => {
  if (browser) await browser.close();
});

const text = (sel) => page.locator(sel).innerText();

async function waitStatus(sel, re) {
  await page.waitForFunction(([s, src]) => new RegExp(src).test(document.querySelector(s)
    .textContent), [sel, re.source], { timeout: 15000 });
  return text(sel);
}

test('the page and its data calls without the token', async () => {
  const r = await fetch(base + '/webui');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const html = await r.text();
  assert.doesNotMatch(html, /<script>|<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  const js = await fetch(base + '/webui/app.js');
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await fetch(base + '/webui/nothing.js')).status, 404);
  const head = await fetch(base + '/webui/', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(html)));
  assert.equal(head.headers.get('content-security-policy'), csp);
  assert.equal((await fetch(base + '/webui', { method: 'POST', body: '{}' })).status, 405);
  // the data calls need the token: 401 without it and with a wrong one
  for (const tok of [null, 'wrong']) {
    for (const p of ['/webui/api/config', '/webui/api/segments']) {
      const a = await rest(p, { collectionName: 'books' }, tok);
      assert.equal(a.http, 401, `${p} with token ${tok}`);
      assert.equal(a.code, 1800);
    }
  }
  const seg = await ok('/webui/api/segments', { collectionName: 'books' });
  assert.equal(seg.rowCount, ROWS);
  assert.equal(seg.sealedSegments >= 1, true);
  const cfg = await ok('/webui/api/config', {});
  assert.equal(cfg.config.token, '[redacted]');
  assert.ok(!JSON.stringify(cfg).includes(token), 'the token is not in the configuration');
});

test('the page shows nothing until a valid token is given', async () => {
  const resp = await page.goto(base + '/webui');
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'], /default-src 'none'/);
  assert.match(await waitStatus('#status', /needs a token/), /needs a token/);
  assert.equal(await page.locator('#main').isHidden(), true);
  assert.equal(await page.locator('#collections tbody tr').count(), 0);

  await page.fill('#token', 'wrong');
  await page.click('#connect');
  assert.match(await waitStatus('#status', /refused/), /token was refused/);
  assert.equal(await page.locator('#main').isHidden(), true);
});

test('with the token: databases, collections, row counts, schema, indexes, configuration',
  async () => {
    await page.fill('#token', token);
    await page.click('#connect');
    await waitStatus('#status', /^Connected/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vdb-webui-token')), token);
    assert.equal(await page.locator('#main').isVisible(), true);

    assert.deepEqual(await page.locator('#databases li').allInnerTexts(), ['default', 'shop']);
    const books = page.locator('#collections tr[data-collection="default.books"]');
    assert.equal(await books.locator('td').nth(1).innerText(), 'books');
    assert.equal(await books.locator('td[data-field="rows"]').innerText(), String(ROWS));
    assert.match(await books.locator('td').nth(4).innerText(), /vector HNSW\s+10\/10 Finished/);
    const orders = page.locator('#collections tr[data-collection="shop.orders"]');
    assert.equal(await orders.locator('td').first().innerText(), 'shop');
    assert.equal(await orders.locator('td[data-field="rows"]').innerText(), '0');

    // the first collection is shown in detail: its schema, partitions, indexes, segments
    assert.equal(await text('#detail-title'), 'Collection default / books');
    const field = (name) => page.locator(`#schema tr[data-field="${name}"] td`).allInnerTexts();
    assert.deepEqual((await field('id')).slice(0, 2), ['id', 'Int64']);
    assert.match((await field('id'))[3], /primary key/);
    assert.deepEqual((await field('title')).slice(0, 3), ['title', 'VarChar', 'max_length=64']);
    assert.deepEqual((await field('year')).slice(0, 2), ['year', 'Int64']);
    assert.deepEqual((await field('vector')).slice(0, 3),
      ['vector', 'FloatVector', 'dim=4, metric_type=L2']);
    assert.deepEqual(await page.locator('#partitions tbody tr td').allInnerTexts(),
      ['_default', String(ROWS)]);
    const ix = await page.locator('#indexes tr[data-index="vector"] td').allInnerTexts();
    assert.deepEqual(ix.slice(0, 5), ['vector', 'vector', 'HNSW', 'L2', 'Finished']);
    assert.match(ix[5], /10 \/ 10 rows/);
    assert.match(await text('#segments'), /sealed segments\s+\d+ \(10 rows\)/);

    // the configuration, the token redacted
    const cfg = page.locator('#config');
    assert.equal(await cfg.locator('tr[data-key="token"] td').innerText(), '[redacted]');
    assert.equal(await cfg.locator('tr[data-key="host"] td').innerText(), '127.0.0.1');
    assert.ok(!(await page.locator('main').innerText()).includes(token));

    // another collection in detail
    await orders.locator('button').click();
    await page.waitForFunction(() => document.querySelector('#detail-title').textContent ===
      'Collection shop / orders');
    assert.deepEqual((await field('vector')).slice(0, 2), ['vector', 'FloatVector']);
  });

test('a query by filter and by primary key shows the hits', async () => {
  await page.selectOption('#search-collection', 'default.books');
  await page.selectOption('#search-mode', 'filter');
  await page.fill('#search-text', 'year >= 2006 and title != "book 8"');
  await page.click('#search-run');
  assert.match(await waitStatus('#search-status', /hit/), /^3 hit\(s\) in default \/ books/);
  assert.deepEqual(await page.locator('#hits thead th').allInnerTexts(),
    ['id', 'title', 'year', 'vector']);
  assert.deepEqual(await page.locator('#hits td[data-field="id"]').allInnerTexts(),
    ['6', '7', '9']);
  assert.deepEqual(await page.locator('#hits td[data-field="title"]').allInnerTexts(),
    ['book 6', 'book 7', 'book 9']);

  await page.selectOption('#search-mode', 'pk');
  await page.fill('#search-text', '3, 5');
  await page.click('#search-run');
  assert.match(await waitStatus('#search-status', /primary key 3, 5/), /^2 hit\(s\)/);
  assert.deepEqual((await page.locator('#hits td[data-field="id"]').allInnerTexts()).sort(),
    ['3', '5']);
  assert.deepEqual((await page.locator('#hits td[data-field="year"]').allInnerTexts()).sort(),
    ['2003', '2005']);

  // a bad filter is shown as the server's error, not as hits
  await page.selectOption('#search-mode', 'filter');
  await page.fill('#search-text', 'year >>> 1');
  await page.click('#search-run');
  assert.match(await waitStatus('#search-status', /^Error/), /code 1100/);
  assert.equal(await page.locator('#hits tbody tr').count(), 0);

  // the hits of a good query for the screenshot
  await page.fill('#search-text', 'year < 2004');
  await page.click('#search-run');
  await waitStatus('#search-status', /^4 hit/);
  const shot = path.join(out, 'webui.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
});

test('the page over HTTPS (a browser offers h2 and http/1.1: it gets HTTP/1.1)', async (t) => {
  const tls = process.env.VDB_TLS_ENDPOINT;
  if (!tls) {
    t.skip('no openssl to make a certificate');
    return;
  }
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const p = await ctx.newPage();
  try {
    const resp = await p.goto(tls + '/webui');
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()['content-security-policy'], /default-src 'none'/);
    await p.waitForFunction(() => /needs a token/.test(document.querySelector('#status')
      .textContent), null, { timeout: 15000 });
    await p.fill('#token', token);
    await p.click('#connect');
    await p.waitForFunction(() => /^Connected/.test(document.querySelector('#status')
      .textContent), null, { timeout: 15000 });
    assert.match(await p.locator('#status').innerText(), /1 database\(s\), 0 collection\(s\)/);
    assert.match(await p.locator('#config tr[data-key="tls-cert"] td').innerText(), /cert\.pem$/);
    assert.equal(await p.locator('#no-collections').isVisible(), true);
  } finally {
    await ctx.close();
  }
});

test('no console error, page error or CSP violation', () => {
  // the browser logs the two refused data calls (no token, then a wrong one) as failed loads
  const refused = problems.filter((m) => /status of 401 \(Unauthorized\)/.test(m));
  assert.equal(refused.length, 2, problems.join('\n'));
  assert.deepEqual(problems.filter((m) => !refused.includes(m)), []);
});
