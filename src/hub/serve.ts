// `wgvm serve` (npm start): the hub. Configuration from the environment and .env, the registry in
// SQLite, the userspace device on SERVERPORT, the management API on API_PORT.
import { loadConfig } from '../config/index.js';
import { createLogger } from '../runtime/log.js';
import { StopSignals } from '../runtime/stop-signals.js';
import { Hub } from './hub.js';

/**
 * Runs the hub until SIGINT or SIGTERM (exit status 0) or until its data plane fails (1). The signals
 * are caught before anything is opened; one that comes during start-up ends it at the next step, and
 * everything opened so far is closed again. A start-up failure is thrown, after the same clean-up.
 */
export async function serve(): Promise<number> {
  const signals = new StopSignals();
  try {
    const config = loadConfig();
    const logger = createLogger(config.logLevel);
    for (const warning of config.warnings) logger.warn(warning);
    const hub = new Hub(config, logger);
    signals.onStop((signal) => void hub.stop(signal, 0));
    await hub.start();
    return await hub.stopped;
  } finally {
    signals.dispose();
  }
}
