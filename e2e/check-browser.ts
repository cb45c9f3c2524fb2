/** Fails early, with the fix, when no Chromium is available for the Playwright tests. */
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH;
if (path === undefined && !existsSync('/usr/bin/chromium')) {
  console.error(
    'No Chromium found for the end-to-end tests.\n' +
      '  Debian/Ubuntu: sudo apt-get install -y chromium   (or run .ci/run, which installs it)\n' +
      "  Elsewhere: set CHROMIUM_PATH to a Chromium binary, or CHROMIUM_PATH='' to use Playwright's own browser.",
  );
  process.exit(1);
}
