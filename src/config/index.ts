// Environment → typed, validated configuration: the public face of src/config/.
//
// SERVERURL, SERVERPORT, LOCAL_SERVER_IP, API_TOKEN and INTERNAL_SUBNET are the variable names of the
// system hubs ran before this one, kept so that its .env files still work; the others are ours.
// Values come from the process environment and from a `.env` file in the working directory; the
// environment wins. An empty value (or one of only spaces) counts as unset everywhere, so
// `API_TOKEN=` in a copied .env.example, or `API_TOKEN=${API_TOKEN}` passed through by
// docker-compose, falls back to the .env value or the default instead of failing.
//
// Every bad value throws a ConfigError whose message is one line: "VARIABLE: what is wrong". The
// value of API_TOKEN never appears in any message (nor does any line of the .env file).
//
// Each group of variables has its reader (api.ts, network.ts, server.ts, tunnel.ts, dns.ts,
// install-links.ts, local.ts); readConfig puts their parts together.
import { resolve } from 'node:path';
import { readApi, readApiToken } from './api.js';
import { readDns } from './dns.js';
import { readDotEnv, type DotEnvEntry } from './dotenv.js';
import { readInstallLinks } from './install-links.js';
import { readLocal } from './local.js';
import { readNetwork } from './network.js';
import type { Config, LoadConfigOptions } from './schema.js';
import { readServer } from './server.js';
import { Source } from './source.js';
import { readTunnel } from './tunnel.js';

export { parseDotEnv, type DotEnvEntry } from './dotenv.js';
export { ConfigError } from './error.js';
export { workerDns } from './dns.js';
export { defaultWorkerRange } from './network.js';
export {
  CONFIG_DEFAULTS,
  CONFIG_VARIABLES,
  LOG_LEVELS,
  type Config,
  type Ipv4Range,
  type Ipv4Subnet,
  type LoadConfigOptions,
  type LogLevel,
} from './schema.js';

function readConfig(src: Source, cwd: string, options: LoadConfigOptions): Config {
  // API_TOKEN first: once it is known, no later message can show it.
  const apiToken = readApiToken(src);
  const network = readNetwork(src);
  const warnings: string[] = [];
  const server = readServer(src, network.internalSubnet, options, warnings);
  const tunnel = readTunnel(src, network, warnings);
  const dns = readDns(src, tunnel.peerDns, network.hubAddress, warnings);
  const api = readApi(src);
  return Object.freeze({
    ...server,
    apiToken,
    ...network,
    ...api,
    ...tunnel,
    ...dns,
    ...readInstallLinks(src),
    ...readLocal(src, cwd),
    warnings: Object.freeze(warnings),
  });
}

/**
 * Reads the configuration from `env` and the `.env` file in `cwd` (the environment wins). Throws
 * ConfigError with a one-line message naming the variable for every bad value.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd(), options: LoadConfigOptions = {}): Config {
  const dir = resolve(cwd);
  const envFile = options.envFile ?? '.env';
  const file = envFile === false ? new Map<string, DotEnvEntry>() : readDotEnv(dir, envFile);
  const src = new Source(env, file, envFile === false ? '.env' : envFile);
  try {
    return readConfig(src, dir, options);
  } catch (err) {
    // Belt and braces: whatever path a message took, the token does not leave in it.
    const token = src.get('API_TOKEN')?.value;
    if (err instanceof Error && token && token.length >= 4 && err.message.includes(token)) {
      err.message = err.message.split(token).join('(API_TOKEN)');
    }
    throw err;
  }
}
