// A citizen signs a session in Debian's headless Chromium: open SIGNING_URL, press Sign, log in
// at the provider as LOGIN, until the provider sends the browser back to esignd, which answers
// with a redirect to the eService's CALLBACK (not running: the redirect is read, not followed).
// Prints JSON: esignd's answer there (status and Location) and any console errors on esignd's pages.
//
//   node session.mjs ESIGND_BASE SIGNING_URL LOGIN
import { launch } from './chromium.mjs';

const [base, signingUrl, login] = process.argv.slice(2);
const browser = await launch();
try {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const consoleErrors = [];
  // esignd's pages only: the provider's development pages load fonts from the Internet.
  page.on('console', (message) => {
    if (message.type() === 'error' && page.url().startsWith(base)) consoleErrors.push(message.text());
  });

  await page.goto(signingUrl);
  await page.getByRole('button', { name: 'Sign with my national ID' }).click();
  await page.waitForURL((url) => !url.href.startsWith(base));
  const answer = page.waitForResponse((r) => r.url().startsWith(`${base}/sign/oidc/callback`));
  let answered = false;
  answer.then(() => { answered = true; });
  const provider = new URL(page.url()).origin;
  while (!answered && new URL(page.url()).origin === provider) {
    const loginField = page.locator('input[name=login]');
    if (await loginField.count()) {
      await loginField.fill(login);
      await page.locator('input[name=password]').fill('any-password');
    }
    const before = page.url();
    await page.locator('button[type=submit]').first().click({ noWaitAfter: true });
    const moved = page.waitForURL((url) => url.href !== before, { waitUntil: 'commit' }).catch(() => {});
    await Promise.race([answer, moved]);
  }
  const response = await answer;
  console.log(JSON.stringify({ status: response.status(), location: response.headers().location ?? null, consoleErrors }));
} finally {
  await browser.close();
}
