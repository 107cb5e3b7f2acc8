// A visitor at the demo page, in Debian's headless Chromium: pick a file, press "Sign it", read
// the signing page and press Sign, log in at the mock ID provider as NAME, and download the
// signature. Prints JSON: the signing page's text, the result page's text, where the .p7s was
// saved, and any errors the pages wrote to the console.
//
//   node demo.mjs BASE_URL FILE NAME OUT_DIR
import { launch, openPage } from './chromium.mjs';
import path from 'node:path';

const [base, file, name, outDir] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, consoleErrors } = await openPage(browser, { timeout: 20_000, acceptDownloads: true });

  await page.goto(`${base}/demo`);
  await page.getByLabel('File to sign').setInputFiles(file);
  await page.getByRole('button', { name: 'Sign it' }).click();

  await page.waitForURL(/\/sign\/interactive\?/);
  const signingPage = await page.locator('main').innerText();
  await page.getByRole('button', { name: 'Sign with my national ID' }).click();

  await page.waitForURL(/\/mock-idp\/authorize\?/);
  await page.getByLabel('Full name').fill(name);
  await page.getByRole('button', { name: 'Log in' }).click();

  await page.waitForURL(/\/demo\/done\?/);
  const resultPage = await page.locator('main').innerText();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: /Download/ }).click(),
  ]);
  const saved = path.join(outDir, download.suggestedFilename());
  await download.saveAs(saved);
  console.log(JSON.stringify({ signingPage, resultPage, saved, consoleErrors }));
} finally {
  await browser.close();
}
