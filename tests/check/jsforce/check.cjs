// The official jsforce 3.x client, unchanged, against `kam sandbox serve --crm salesforce`:
// OAuth (client credentials), query + queryMore, queryAll, describe / describeGlobal, sObject
// collections (create, update, upsert by external id, retrieve, destroy), single records, Tooling
// CustomField, limits and Sforce-Limit-Info, a 401 INVALID_SESSION_ID answered by jsforce's own
// refresh-token flow, and Salesforce's error shapes.
//
// Usage: node check.cjs /path/to/kam   (jsforce must be installed next to this file)
'use strict';
const { spawn } = require('node:child_process');
const assert = require('node:assert/strict');
const path = require('node:path');
const jsforce = require(path.join(__dirname, 'node_modules', 'jsforce'));

const kam = process.argv[2];
if (!kam) {
  console.error('usage: node check.cjs /path/to/kam');
  process.exit(2);
}

function startSandbox() {
  return new Promise((resolve, reject) => {
    const child = spawn(kam, ['sandbox', 'serve', '--crm', 'salesforce', '--port', '0',
                              '--accounts', '1000', '--seed', '7'],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const onData = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(/listening on (http:\/\/[0-9.:\[\]]+)/);
      if (m) resolve({ child, url: m[1] });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`kam sandbox serve exited with ${code}:\n${seen}`)));
    setTimeout(() => reject(new Error(`no "listening on" within 60 s:\n${seen}`)), 60000).unref();
  });
}

async function admin(url, method, p, body) {
  const res = await fetch(url + p, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${p} -> ${res.status}`);
  return res.status === 204 ? null : res.json();
}

const steps = [];
function step(name, fn) { steps.push({ name, fn }); }

async function main() {
  const { child, url } = await startSandbox();
  const stop = () => { try { child.kill('SIGINT'); } catch (e) { /* gone */ } };
  process.on('exit', stop);
  let failed = 0;
  try {
    const conn = new jsforce.Connection({
      oauth2: { loginUrl: url, clientId: 'kam-check', clientSecret: 'kam-check-secret' },
      version: '59.0',
    });
    const state = {};

    step('client-credentials authorize gives user and org ids', async () => {
      const info = await conn.authorize({ grant_type: 'client_credentials' });
      assert.match(info.id, /^005/);
      assert.match(info.organizationId, /^00D/);
      assert.equal(conn.instanceUrl, url);
    });

    step('query with autoFetch follows nextRecordsUrl (queryMore)', async () => {
      const res = await conn.query('SELECT Id, Name, AccountId FROM Contact', { autoFetch: true, maxFetch: 100000 });
      assert.ok(res.totalSize > 2000, `needs more than one page, got ${res.totalSize}`);
      assert.equal(res.records.length, res.totalSize);
      assert.equal(new Set(res.records.map((r) => r.Id)).size, res.totalSize);
      state.contacts = res.totalSize;
    });

    step('query + explicit queryMore', async () => {
      const first = await conn.query('SELECT Id FROM Contact');
      assert.equal(first.done, false);
      assert.equal(first.records.length, 2000);
      const more = await conn.queryMore(first.nextRecordsUrl);
      assert.equal(more.totalSize, first.totalSize);
      assert.ok(more.records.length > 0);
    });

    step('aggregate query and count', async () => {
      const agg = await conn.query(
        'SELECT AccountId, SUM(Amount) total, COUNT(Id) n FROM Opportunity WHERE IsWon = true GROUP BY AccountId LIMIT 50');
      assert.ok(agg.records.length > 0);
      assert.equal(typeof agg.records[0].total, 'number');
      const count = await conn.query('SELECT COUNT() FROM Account');
      assert.equal(count.totalSize, 1000);
      const accounts = await conn.query('SELECT Id, OwnerId, Owner.Name FROM Account ORDER BY Id LIMIT 3');
      state.accountId = accounts.records[0].Id;
      state.ownerId = accounts.records[0].OwnerId;
      assert.equal(typeof accounts.records[0].Owner.Name, 'string');
    });

    step('describe and describeGlobal', async () => {
      const d = await conn.describe('Task');
      const status = d.fields.find((f) => f.name === 'Status');
      assert.ok(status.picklistValues.some((p) => p.value === 'Completed'));
      const g = await conn.describeGlobal();
      assert.ok(g.sobjects.some((s) => s.name === 'Account'));
    });

    step('Tooling CustomField create + query, then the field is in describe', async () => {
      const r = await conn.tooling.sobject('CustomField').create({
        FullName: 'Task.KAM_Task_Key__c',
        Metadata: { label: 'KAM task key', type: 'Text', length: 80, externalId: true, unique: true },
      });
      assert.equal(r.success, true);
      const q = await conn.tooling.query(
        "SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = 'Task'");
      assert.ok(q.records.some((x) => x.DeveloperName === 'KAM_Task_Key'));
      const d = await conn.sobject('Task').describe();
      assert.ok(d.fields.some((f) => f.name === 'KAM_Task_Key__c' && f.externalId));
    });

    step('collections: create, update (lower-case id), retrieve, upsert, destroy', async () => {
      const tasks = [1, 2, 3].map((i) => ({ Subject: `Check ${i}`, WhatId: state.accountId, OwnerId: state.ownerId }));
      const created = await conn.sobject('Task').create(tasks);
      assert.equal(created.length, 3);
      assert.ok(created.every((r) => r.success && /^00T/.test(r.id)));
      const ids = created.map((r) => r.id);
      const updated = await conn.sobject('Task').update(ids.map((id) => ({ Id: id, Status: 'Completed' })));
      assert.ok(updated.every((r) => r.success));
      const got = await conn.sobject('Task').retrieve(ids);
      assert.ok(got.every((t) => t.Status === 'Completed' && t.IsClosed === true));
      const up = await conn.sobject('Task').upsert(
        [{ KAM_Task_Key__c: 'k-1', Subject: 'Keyed', WhatId: state.accountId },
         { KAM_Task_Key__c: 'k-2', Subject: 'Keyed', WhatId: state.accountId }], 'KAM_Task_Key__c');
      assert.ok(up.every((r) => r.success && r.created === true));
      const again = await conn.sobject('Task').upsert(
        [{ KAM_Task_Key__c: 'k-1', Subject: 'Keyed again', WhatId: state.accountId }], 'KAM_Task_Key__c');
      assert.equal(again[0].created, false);
      const gone = await conn.sobject('Task').destroy(ids);
      assert.ok(gone.every((r) => r.success));
      const all = await conn.query(`SELECT Id FROM Task WHERE Id = '${ids[0]}'`, { scanAll: true });
      assert.equal(all.totalSize, 1);
      const live = await conn.query(`SELECT Id FROM Task WHERE Id = '${ids[0]}'`);
      assert.equal(live.totalSize, 0);
    });

    step('single records: create, update (204), retrieve, destroy, and per-record errors', async () => {
      const r = await conn.sobject('Task').create({ Subject: 'Single', WhatId: state.accountId });
      assert.equal(r.success, true);
      const u = await conn.sobject('Task').update({ Id: r.id, Priority: 'High' });
      assert.equal(u.success, true);
      const t = await conn.sobject('Task').retrieve(r.id);
      assert.equal(t.IsHighPriority, true);
      await conn.sobject('Task').destroy(r.id);
      const bad = await conn.sobject('Task').create(
        [{ Subject: 'ok', WhatId: state.accountId }, { Subject: 'bad', Status: 'Nope' }], { allOrNone: false });
      assert.equal(bad[0].success, true);
      assert.equal(bad[1].success, false);
      assert.equal(bad[1].errors[0].errorCode || bad[1].errors[0].statusCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
    });

    step('errors arrive with errorCode', async () => {
      await assert.rejects(conn.query('SELECT Id FRM Account'), (e) => e.errorCode === 'MALFORMED_QUERY');
      await assert.rejects(conn.query('SELECT Nope__c FROM Account'), (e) => e.errorCode === 'INVALID_FIELD');
    });

    step('limits and limitInfo from Sforce-Limit-Info', async () => {
      const limits = await conn.limits();
      assert.ok(limits.DailyApiRequests.Max > 0);
      assert.ok(conn.limitInfo.apiUsage.used > 0, JSON.stringify(conn.limitInfo));
    });

    step('401 INVALID_SESSION_ID is refreshed by jsforce and the call replayed', async () => {
      const c2 = new jsforce.Connection({
        oauth2: { loginUrl: url, clientId: 'kam-check', clientSecret: 'kam-check-secret' },
        instanceUrl: url,
        refreshToken: 'sandbox-refresh-token',
        version: '59.0',
      });
      let refreshed = 0;
      c2.on('refresh', () => { refreshed += 1; });
      await admin(url, 'POST', '/_sandbox/oauth/expire', {});  // also expires conn's token
      const res = await c2.query('SELECT COUNT() FROM Account');
      assert.equal(res.totalSize, 1000);
      assert.equal(refreshed, 1);
      await admin(url, 'POST', '/_sandbox/oauth/expire', {});
      const again = await c2.query('SELECT Id FROM Account LIMIT 1');
      assert.equal(again.records.length, 1);
      assert.equal(refreshed, 2);
    });

    for (const s of steps) {
      const t0 = Date.now();
      try {
        await s.fn();
        console.log(`ok   ${s.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL ${s.name}: ${e && e.stack ? e.stack : e}`);
      }
    }
  } finally {
    stop();
  }
  console.log(failed ? `${failed} of ${steps.length} jsforce checks failed` : `all ${steps.length} jsforce checks passed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
