// Browser tests of the swarmlab dashboard, in Debian's headless Chromium through
// playwright-core. They need a running hub and its tokens, nothing else:
//
//   SWARMLAB_E2E_URL            the hub, e.g. http://127.0.0.1:7878
//   SWARMLAB_E2E_ADMIN_TOKEN    a maintainer's bearer token
//   SWARMLAB_E2E_WORKER_TOKEN   a worker's bearer token
//   SWARMLAB_E2E_TRACK          a track with a few chain entries
//   SWARMLAB_E2E_SUBMISSION     a queued submission of that worker
//   SWARMLAB_E2E_SCREENSHOTS    where to write the screenshots (default ../target/screenshots)
//   CHROMIUM                    the browser (default /usr/bin/chromium)
//
// When the submission's page is open it prints `need-verdict <id>` and waits, without
// reloading, for the page to show the verdict: whoever runs the hub (a test harness, or a
// demo's own verifier) decides it meanwhile. Exits non-zero on the first failed check.

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const base = env('SWARMLAB_E2E_URL').replace(/\/$/, '');
const adminToken = env('SWARMLAB_E2E_ADMIN_TOKEN');
const workerToken = env('SWARMLAB_E2E_WORKER_TOKEN');
const track = env('SWARMLAB_E2E_TRACK');
const submission = env('SWARMLAB_E2E_SUBMISSION');
const shots = resolve(env('SWARMLAB_E2E_SCREENSHOTS', join(here, '..', 'target', 'screenshots')));
mkdirSync(shots, { recursive: true });

const problems = [];
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
};
const shot = async (page, name) => {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, animations: 'disabled' });
  console.log(`screenshot ${join(shots, `${name}.png`)}`);
};

/// A signed-in page in a fresh context.
async function signedIn(browser, token, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  await page.goto(`${base}/`);
  if (page.url().startsWith(`${base}/login`)) {
    // A hub with `public_read = false`.
    check(true, 'a visitor without a session is sent to sign in');
  } else {
    // A public hub: anyone reads it, and is offered to sign in.
    check((await page.locator('h1').textContent()) === 'Tracks', 'a visitor reads the overview without signing in');
    check((await page.locator('form[action="/logout"]').count()) === 0, 'a visitor has nothing to sign out of');
    const signIn = page.locator('header .who a', { hasText: 'Sign in' });
    check((await signIn.count()) === 1, 'a visitor is offered to sign in');
    await Promise.all([page.waitForURL(/\/login/), signIn.click()]);
  }
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  return { context, page };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none'],
});
try {
  // The sign-in page, as a visitor sees it.
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await shot(page, 'login');
    await context.close();
  }

  const { context: workerContext, page } = await signedIn(browser, workerToken);

  // Overview.
  check((await page.locator('h1').textContent()) === 'Tracks', 'the overview lists the tracks');
  check((await page.locator(`.card h2 a[href="/tracks/${track}"]`).count()) === 1, `a card for ${track}`);
  await shot(page, 'overview');

  // The track's chart has a point for every chain entry.
  await page.goto(`${base}/tracks/${track}`);
  const allLink = await page.locator('a', { hasText: /All \d+ chain entries/ }).textContent();
  const chainLength = Number(allLink.match(/All (\d+)/)[1]);
  const points = await page.locator('svg.chart .kept .pt').count();
  check(chainLength > 1 && points === chainLength, `the chart shows all ${chainLength} chain points (${points})`);
  check((await page.locator('svg.chart path.step').count()) === 1, 'the chain is drawn as a step line');
  const seqs = await page.locator('svg.chart .kept .pt').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
  check(
    seqs.every((s, i) => s === i),
    'the chart points are the chain entries in order',
  );
  await page.locator('body[data-live="open"]').waitFor({ timeout: 10_000 });
  check(await page.locator('[data-live-status]').isVisible(), 'the page is live (event stream open)');
  await page.locator('svg.chart .kept .pt').last().hover();
  check(await page.locator('.tip').isVisible(), 'a chart point shows its tooltip');
  await page.mouse.move(0, 0);
  await shot(page, 'track');

  // The chain, and an entry with its verdict and diff.
  await page.goto(`${base}/tracks/${track}/chain`);
  const rows = await page.locator('tbody tr').count();
  check(rows === Math.min(chainLength, 50), `the chain page lists the entries (${rows})`);
  await shot(page, 'chain');
  await page.locator('tbody tr').first().locator('a').first().click();
  await page.locator('.diff').waitFor();
  check((await page.locator('#verdict-h').count()) === 1, 'an entry shows its verification');
  check((await page.locator('.diff .add').count()) > 0, 'an entry shows its diff');
  check(
    (await page.locator('button', { hasText: 'Promote' }).count()) === 0,
    'a worker is offered no promote button',
  );
  await shot(page, 'entry');

  // A worker who posts the promote form anyway is refused.
  const refused = await page.evaluate(async ([track]) => {
    const csrf = document.querySelector('input[name=csrf]').value;
    const commit = document.querySelector('dd.hash').textContent.trim();
    const res = await fetch(`/tracks/${track}/promote`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, commit }),
    });
    return res.status;
  }, [track]);
  check(refused === 403, `a worker cannot promote (HTTP ${refused})`);
  // The browser logs that refusal as a failed load; it was the point.
  for (let i = problems.length - 1; i >= 0; i--) {
    if (problems[i].includes('status of 403')) problems.splice(i, 1);
  }

  // Ideas: a <script> text stays text; adding one works.
  await page.goto(`${base}/tracks/${track}/ideas`);
  await page.fill('#idea-text', "<script>document.title = 'pwned'</script> a hostile idea");
  await Promise.all([page.waitForURL(/added=\d+/), page.click('form.stack button[type=submit]')]);
  const scripted = page.locator('.idea-text', { hasText: '<script>' });
  check((await scripted.count()) >= 1, 'an idea with <script> shows as text');
  check(!(await page.title()).includes('pwned'), 'the idea\'s script did not run');
  const text = `Share the input and output embeddings (${Date.now()})`;
  await page.fill('#idea-text', text);
  await page.fill('#idea-tags', 'size, embeddings');
  await Promise.all([page.waitForURL(/added=\d+/), page.click('form.stack button[type=submit]')]);
  check((await page.locator('.idea-text', { hasText: text }).count()) === 1, 'the new idea is in the queue');
  check(await page.locator('.notice.good').isVisible(), 'the page confirms the idea was added');
  await shot(page, 'ideas');

  // Leaderboard.
  await page.goto(`${base}/tracks/${track}/leaderboard`);
  check((await page.locator('table').count()) === 3, 'three leaderboards');
  await shot(page, 'leaderboard');

  // Follow a submission to its verdict, live.
  await page.goto(`${base}/submissions/${submission}`);
  check((await page.locator('[data-status="queued"]').count()) === 1, 'the submission is queued');
  await page.locator('body[data-live="open"]').waitFor({ timeout: 10_000 });
  await shot(page, 'submission-queued');
  const before = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  console.log(`need-verdict ${submission}`);
  await page.locator('[data-status="accepted"], [data-status="rejected"]').waitFor({ timeout: 60_000 });
  const after = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  check(before === after, 'the verdict arrived without a reload');
  check((await page.locator('[data-status="accepted"]').count()) === 1, 'the submission was accepted');
  check((await page.locator('ol.steps li.done').count()) === 4, 'every step of the submission is done');
  await shot(page, 'submission');
  await page.goto(`${base}/submissions`);
  await shot(page, 'submissions');
  await workerContext.close();

  // A maintainer promotes the new head.
  const { context: adminContext, page: admin } = await signedIn(browser, adminToken);
  await admin.goto(`${base}/tracks/${track}`);
  await admin.locator('section[data-live="latest"] tbody tr').first().locator('a').first().click();
  const promote = admin.locator('button', { hasText: /Promote #\d+ to main/ });
  check((await promote.count()) === 1, 'a maintainer is offered the promote button');
  await Promise.all([admin.waitForURL(/promoted=1/), promote.click()]);
  check(await admin.locator('.notice.good', { hasText: 'Promoted' }).isVisible(), 'the promotion is confirmed');
  check((await admin.locator('h1 + p .badge.main').count()) === 1, 'the entry is marked main');
  check(
    admin.url() === `${base}/tracks/${track}/chain/${chainLength}?promoted=1`,
    'the promoted entry is the newest, the verdict just followed',
  );
  await shot(admin, 'promoted');
  await adminContext.close();

  // Without JavaScript the pages still work: sign-in, chart, chain.
  {
    const { context, page: plain } = await signedIn(browser, workerToken, { javaScriptEnabled: false });
    await plain.goto(`${base}/tracks/${track}`);
    const n = await plain.locator('svg.chart .kept .pt').count();
    check(n >= chainLength, `without JavaScript the chart still shows the chain (${n})`);
    check(!(await plain.locator('[data-live-status]').isVisible()), 'without JavaScript nothing claims to be live');
    await shot(plain, 'track-nojs');
    await context.close();
  }

  // On a phone.
  {
    const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
    const { context, page: small } = await signedIn(browser, workerToken, phone);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the overview fits a phone's width (overflow ${overflow}px)`);
    await shot(small, 'overview-phone');
    await small.goto(`${base}/tracks/${track}`);
    const trackOverflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(trackOverflow <= 0, `the track page fits a phone's width (overflow ${trackOverflow}px)`);
    await shot(small, 'track-phone');
    await context.close();
  }

  check(problems.length === 0, `no page or console errors${problems.length ? ':\n  ' + problems.join('\n  ') : ''}`);
  console.log('all dashboard checks passed');
} finally {
  await browser.close();
}
