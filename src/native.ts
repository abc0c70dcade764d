// Loads the C++ addon built by cmake-js. Everything native is reached through this module.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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

export interface NativeAddon {
  crypto: NativeCrypto;
}

const addonPath = fileURLToPath(new URL('../build/Release/wgvm_native.node', import.meta.url));

let cached: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new Error(`the native addon is not built (${addonPath} is missing): run "npm run build:native"`);
  }
  cached = createRequire(import.meta.url)(addonPath) as NativeAddon;
  return cached;
}
