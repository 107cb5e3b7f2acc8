// Debian's Chromium, headless, as the browser tests launch it.
import { chromium } from 'playwright-core';

export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // No sandbox: CI runs as root in a container. The rest keeps Chromium off the network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/// A page in a fresh English context, and the errors its pages write to the console (only
/// those of pages under ERRORS_FROM when given: the provider's development pages load fonts from
/// the Internet, which this machine refuses).
export async function openPage(browser, { timeout = 30_000, acceptDownloads = false, errorsFrom = null } = {}) {
  const context = await browser.newContext({ acceptDownloads, locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && (errorsFrom === null || page.url().startsWith(errorsFrom))) {
      consoleErrors.push(message.text());
    }
  });
  return { page, consoleErrors };
}

/// Log in at the OpenID provider (oidc-provider's development login and consent pages) as
/// LOGIN until it sends the browser back to esignd at BASE; returns esignd's answer there.
export async function logInAtProvider(page, base, login) {
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
  return answer;
}
