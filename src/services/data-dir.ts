/**
 * The lab's data folder (database, weights), the same for the desktop and the headless host:
 * Electron's userData for an app named "trajectory-lab" — ~/.config/trajectory-lab on Linux,
 * ~/Library/Application Support/trajectory-lab on macOS, %APPDATA%\trajectory-lab on Windows.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

const APP_DIR_NAME = 'trajectory-lab';
const DATA_DIR_ENV = 'TRAJECTORY_LAB_DATA';

/** The per-user application-data root, computed the way Electron's app.getPath('appData') does. */
export function appDataRoot(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (platform === 'win32') return env.APPDATA ?? join(homedir(), 'AppData', 'Roaming');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support');
  return env.XDG_CONFIG_HOME || join(homedir(), '.config');
}

/** TRAJECTORY_LAB_DATA when set, else `<appData>/trajectory-lab`. */
export function defaultDataDir(
  appData: string = appDataRoot(),
  env: NodeJS.ProcessEnv = process.env,
): string {
  return env[DATA_DIR_ENV] || join(appData, APP_DIR_NAME);
}
