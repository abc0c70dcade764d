// Loads the C++ addon built by cmake-js (or the build WGVM_ADDON names). Everything native is reached
// through this module.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceCounters } from './counters.js';

export interface NativeCrypto {
  chacha20poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Buffer;
  /** null when the ciphertext, tag or associated data does not authenticate */
  chacha20poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Buffer | null;
  xchacha20poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Buffer;
  xchacha20poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Buffer | null;
  hchacha20(key: Uint8Array, nonce16: Uint8Array): Buffer;
  blake2s(data: Uint8Array): Buffer;
  blake2sKeyed(key: Uint8Array, data: Uint8Array, outLen?: number): Buffer;
  /** WireGuard's MAC: keyed BLAKE2s, 16-byte output, 32-byte key */
  mac(key: Uint8Array, data: Uint8Array): Buffer;
  hmacBlake2s(key: Uint8Array, data: Uint8Array): Buffer;
  kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Buffer[];
  x25519PublicKey(privateKey: Uint8Array): Buffer;
  /** null when the shared secret would be all zeros */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Buffer | null;
}

export type DeviceEvent =
  | { type: 'handshake'; publicKey: Buffer; endpoint: string | null }
  | { type: 'endpoint'; publicKey: Buffer; endpoint: string | null }
  | { type: 'stopped'; reason: string };

export interface PeerSnapshot {
  publicKey: Buffer;
  endpoint: string | null;
  /** Our own address the peer's datagrams arrive at, which we answer from; null: the kernel chooses. */
  localAddress: string | null;
  /** wall clock, ns since the Unix epoch; 0n = never */
  lastHandshakeNs: bigint;
  rxBytes: bigint;
  txBytes: bigint;
}

/** The device's counters: their fields are described in counters.ts. */
export type { DeviceCounters } from './counters.js';

/** A running userspace WireGuard interface (native threads; no packet touches JavaScript). */
export interface NativeDevice {
  readonly name: string;
  /** Threads sealing and opening packets, the loop's own included. */
  readonly threads: number;
  /** Applies a UAPI `set=1` body; errno 0 on success, else a positive errno and a message naming the line. */
  set(uapiBody: string): { errno: number; message: string };
  /** The UAPI `get=1` answer lines (without the errno line). */
  get(): string;
  peers(): PeerSnapshot[];
  counters(): DeviceCounters;
  setRelay(on: boolean): void;
  /**
   * Self-fencing: the device stops by itself (a `stopped` event) `ms` milliseconds from now unless
   * called again; 0 never. Checked by the data plane's own thread, whatever JavaScript is doing.
   */
  fenceAfter(ms: number): void;
  setIsolated(publicKey: Uint8Array, isolated: boolean): boolean;
  /** Starts a handshake now; false when there is no such peer or it has no endpoint. */
  initiateHandshake(publicKey: Uint8Array): boolean;
  /** Stops the threads and closes every descriptor; the kernel removes the interface. */
  close(): void;
}

export interface NativeAddon {
  crypto: NativeCrypto;
  Device: new (name: string, options?: { mtu?: number; threads?: number | undefined; onEvent?: (e: DeviceEvent) => void }) => NativeDevice;
}

const builtAddon = fileURLToPath(new URL('../../build/Release/wgvm_native.node', import.meta.url));

/**
 * The addon to load: the one `npm run build:native` makes, or WGVM_ADDON (an absolute path to another
 * build of it, e.g. the ASan/UBSan one of `npm run test:sanitize`).
 */
export function resolveAddonPath(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.WGVM_ADDON;
  if (chosen === undefined || chosen === '') {
    if (!existsSync(builtAddon)) {
      throw new Error(`the native addon is not built (${builtAddon} is missing): run "npm run build:native"`);
    }
    return builtAddon;
  }
  if (!isAbsolute(chosen) || !chosen.endsWith('.node')) {
    throw new Error(`WGVM_ADDON=${chosen}: expected the absolute path of a wgvm_native.node file`);
  }
  if (!existsSync(chosen) || !statSync(chosen).isFile()) throw new Error(`WGVM_ADDON=${chosen}: no such file`);
  // An addon built with AddressSanitizer needs its runtime loaded before anything else; without it,
  // the runtime would abort the whole process with a less helpful message.
  if (readFileSync(chosen).includes('libasan.so') && !/libasan\.so/.test(env.LD_PRELOAD ?? '')) {
    throw new Error(
      `WGVM_ADDON=${chosen} is built with AddressSanitizer: start node with LD_PRELOAD=$(g++ -print-file-name=libasan.so) ` +
        '(npm run test:sanitize does)',
    );
  }
  return chosen;
}

let cached: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (cached) return cached;
  cached = createRequire(import.meta.url)(resolveAddonPath()) as NativeAddon;
  return cached;
}
