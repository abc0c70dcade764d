// What a worker downloads: the wg-quick config, the Windows and Linux/macOS installers, the worker
// env file and QR codes. Pure functions of a WorkerInstall (validated by checkWorkerInstall).
export { OWN_KEY_COMMENT, PRIVATE_KEY_COMMENT, renderWgQuick } from './wg-quick.js';
export { FIREWALL_RULES, renderWindowsBat, WIREGUARD_INSTALLER_URL } from './windows.js';
export { renderPosixShell, WORKER_ENV_PATH } from './posix-shell.js';
// The names the HTTP layer uses for the download routes (windows.bat, linux.sh).
export { renderWindowsBat as renderWindowsInstaller } from './windows.js';
export { renderPosixShell as renderLinuxInstaller } from './posix-shell.js';
export { envValue, renderWorkerEnv, shQuote } from './worker-env.js';
export { qrSvg } from './qr.js';
