// The environment a data-plane process starts with. OpenSSL 3.0 reads its CPU feature mask once, at
// start-up, from OPENSSL_ia32cap (see OPENSSL_ia32cap(3)). Its AVX-512 IFMA Poly1305 computes eight
// powers of the key before it starts, which every WireGuard packet pays again (a fresh Poly1305 key
// per packet): measured, a 1,420-byte seal costs about 30 % more with it than with the AVX-512F code
// it otherwise picks, and TCP through the tunnel moves about 13 % less. Masking the one feature bit
// (CPUID leaf 7 EBX bit 21) leaves every other choice to OpenSSL. An admin's own value wins.
export const OPENSSL_CPU_MASK = ':~0x200000';

export function dataPlaneEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.OPENSSL_ia32cap === undefined ? { ...env, OPENSSL_ia32cap: OPENSSL_CPU_MASK } : env;
}
