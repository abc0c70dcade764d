// What a worker downloads: the wg-quick config, the Windows .bat, the Linux/macOS .sh, the worker
// env file and QR codes — checked as text, and where a tool can judge them (wg-quick, sh), by it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FIREWALL_RULES,
  qrSvg,
  renderPosixShell,
  renderWgQuick,
  renderWindowsBat,
  renderWorkerEnv,
} from '../../src/render/index.js';
import { InstallInputError } from '../../src/domain/errors.js';
import type { WorkerInstall } from '../../src/domain/install.js';
import { hasTool, requireTools, skipWithout } from '../helpers/tools.js';

const PRIVATE_KEY = 'KMWLwMgq2yqfbGub7Jt62qpgGK5AlpoOeyITjplbDWU=';
const HUB_PUBLIC_KEY = 'kDhgBqmOBgt/JRyOWkWodSoQqFdqlLhzAac9fGbUiGs=';
const PRESHARED_KEY = 'vg06/X0a3SlXrQo5RV9W7kR5u/ukUBUg7O+RW9kAGiE=';

const base: WorkerInstall = {
  interfaceName: 'wg0',
  nodeId: 'worker-01',
  description: 'GPU Server #1',
  centralServerUrl: 'http://192.168.0.88:8000',
  vpnIp: '10.100.1.2',
  privateKey: PRIVATE_KEY,
  presharedKey: PRESHARED_KEY,
  dns: [],
  mtu: 1420,
  hubPublicKey: HUB_PUBLIC_KEY,
  endpoint: 'vpn.example.com:41820',
  allowedIps: ['10.100.0.0/16'],
  persistentKeepalive: 25,
  hubVpnIp: '10.100.0.1',
  serverPort: 41820,
  subnet: '10.100.0.0/16',
  agent: null,
};
const ownKey: WorkerInstall = { ...base, privateKey: null };

const GOLDEN = `[Interface]
PrivateKey = ${PRIVATE_KEY}
Address = 10.100.1.2/32
MTU = 1420

[Peer]
PublicKey = ${HUB_PUBLIC_KEY}
PresharedKey = ${PRESHARED_KEY}
Endpoint = vpn.example.com:41820
AllowedIPs = 10.100.0.0/16
PersistentKeepalive = 25
`;

// Descriptions meant to break out of a cmd.exe or sh command line.
const HOSTILE = [
  'a & calc.exe',
  'x | del /q *',
  '%PATH%',
  '"quoted"',
  '^',
  '!x!',
  '<in >out',
  "it's",
  '$(touch /tmp/wgvm-pwned)',
  '`id`',
  'back\\slash\\',
  "') & calc & ('",
  '"& calc & "',
  '%~1 %%~dp0 %WGVM_CONF_B64%',
  'WGVM_EOF',
  'WGVM_ENV_EOF',
  'GPU 서버 #1 ✓',
  '  leading and trailing  ',
  '',
];
const NEWLINES = ['line one\nline two', 'a\r\ncalc.exe', 'cr\ronly', 'tab\there', 'nul\u0000'];

const work = mkdtempSync(join(tmpdir(), 'wgvm-render-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let fileNo = 0;
function tempFile(name: string, content: string, mode = 0o600): string {
  const path = join(work, `${fileNo++}-${name}`);
  writeFileSync(path, content, { mode });
  return path;
}

function sh(script: string, args: string[] = []) {
  const r = spawnSync('sh', ['-c', script, 'sh', ...args], { encoding: 'utf8', cwd: work });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The lines of `script` from the one starting with `from` up to and including the one starting with `to`. */
function section(script: string, from: string, to: string): string {
  const lines = script.split('\n');
  const start = lines.findIndex((l) => l.startsWith(from));
  const end = lines.findIndex((l, n) => n > start && l.startsWith(to));
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return lines.slice(start, end + 1).join('\n') + '\n';
}

const SH_PRELUDE = "say() { printf '%s\\n' \"$*\"; }\nfail() { printf 'FAILURE: %s\\n' \"$*\" >&2; exit 1; }\nset -eu\n";

describe('renderWgQuick', () => {
  it('renders the golden config for a fixed input', () => {
    expect(renderWgQuick(base)).toBe(GOLDEN);
  });

  it('writes DNS only when PEERDNS is set, right after Address', () => {
    expect(renderWgQuick(base)).not.toMatch(/^DNS/m);
    const withDns = renderWgQuick({ ...base, dns: ['1.1.1.1', '8.8.8.8'] });
    expect(withDns).toBe(GOLDEN.replace('Address = 10.100.1.2/32\n', 'Address = 10.100.1.2/32\nDNS = 1.1.1.1, 8.8.8.8\n'));
  });

  it('joins AllowedIPs with comma and space, and leaves PersistentKeepalive out when 0', () => {
    const text = renderWgQuick({ ...base, allowedIps: ['10.100.0.0/16', '192.168.50.0/24'], persistentKeepalive: 0 });
    expect(text).toContain('AllowedIPs = 10.100.0.0/16, 192.168.50.0/24\n');
    expect(text).not.toContain('PersistentKeepalive');
  });

  it('without a private key: no PrivateKey line, a comment saying what to add', () => {
    const text = renderWgQuick(ownKey);
    expect(text).not.toMatch(/^PrivateKey/m);
    expect(text).toContain('# PrivateKey: add the private key whose public key you registered\n');
    expect(text.split('\n').slice(0, 3)).toEqual([
      '[Interface]',
      '# This node registered its own public key: the hub never had its private key.',
      '# PrivateKey: add the private key whose public key you registered',
    ]);
    expect(text.endsWith(GOLDEN.slice(GOLDEN.indexOf('Address')))).toBe(true);
  });

  it('uses LF only and ends with a newline; IPv6 addresses get /128 and a bracketed endpoint', () => {
    const text = renderWgQuick({ ...base, vpnIp: 'fd00::2', endpoint: '[2001:db8::1]:41820' });
    expect(text).not.toContain('\r');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('Address = fd00::2/128\n');
    expect(text).toContain('Endpoint = [2001:db8::1]:41820\n');
  });

  it.each([
    ['a bad private key', { privateKey: 'not-a-key' }, 'privateKey'],
    ['a bad hub key', { hubPublicKey: 'x'.repeat(44) }, 'hubPublicKey'],
    ['a bad node id', { nodeId: 'Worker 01' }, 'nodeId'],
    ['an endpoint without port', { endpoint: 'vpn.example.com' }, 'endpoint'],
    ['an unbracketed IPv6 endpoint', { endpoint: '2001:db8::1:41820' }, 'endpoint'],
    ['a bad AllowedIPs entry', { allowedIps: ['10.100.0.0/33'] }, 'allowedIps'],
    ['an IP with a zone', { vpnIp: 'fe80::1%eth0' }, 'vpnIp'],
    ['a DNS entry with a space', { dns: ['1.1.1.1 8.8.8.8'] }, 'dns'],
    ['a fractional MTU', { mtu: 1420.5 }, 'mtu'],
    ['an interface name wg-quick refuses', { interfaceName: 'wg0;reboot' }, 'interfaceName'],
    ['a non-http central server URL', { centralServerUrl: 'javascript:alert(1)' }, 'centralServerUrl'],
  ] as Array<[string, Partial<WorkerInstall>, string]>)('rejects %s', (_what, patch, field) => {
    const bad = { ...base, ...patch } as WorkerInstall;
    for (const render of [renderWgQuick, renderWindowsBat, renderPosixShell, renderWorkerEnv]) {
      expect(() => render(bad)).toThrow(InstallInputError);
      expect(() => render(bad)).toThrow(field);
    }
  });

  it.skipIf(skipWithout('wg-quick'))('is accepted by `wg-quick strip`, keys kept, wg-quick-only lines removed', () => {
    requireTools('wg-quick');
    for (const input of [{ ...base, dns: ['1.1.1.1', '8.8.8.8'] }, ownKey]) {
      const dir = mkdtempSync(join(work, 'strip-'));
      const path = join(dir, 'wgvmtest0.conf');
      writeFileSync(path, renderWgQuick(input), { mode: 0o600 });
      const r = spawnSync('wg-quick', ['strip', path], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const stripped = r.stdout;
      for (const line of [
        `PublicKey = ${HUB_PUBLIC_KEY}`,
        `PresharedKey = ${PRESHARED_KEY}`,
        'Endpoint = vpn.example.com:41820',
        'AllowedIPs = 10.100.0.0/16',
        'PersistentKeepalive = 25',
      ]) {
        expect(stripped).toContain(line + '\n');
      }
      if (input.privateKey) expect(stripped).toContain(`PrivateKey = ${PRIVATE_KEY}\n`);
      else expect(stripped).not.toMatch(/^PrivateKey/m);
      // What is left is what `wg setconf` reads: sections, its own keys and comments, nothing else.
      expect(stripped).not.toMatch(/^(Address|DNS|MTU)\b/m);
      for (const line of stripped.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
        expect(line).toMatch(/^(\[Interface\]|\[Peer\]|(PrivateKey|PublicKey|PresharedKey|Endpoint|AllowedIPs|PersistentKeepalive) = \S.*)$/);
      }
    }
  });
});

describe('renderWindowsBat', () => {
  const bat = renderWindowsBat(base);
  const lines = bat.split('\r\n');
  const b64Of = (text: string, name: string) => {
    const line = text.split('\r\n').find((l) => l.startsWith(`set "WGVM_${name}_B64=`));
    expect(line).toBeDefined();
    const m = /^set "WGVM_[A-Z_]+_B64=([A-Za-z0-9+/=]*)"$/.exec(line!);
    expect(m).not.toBeNull();
    return Buffer.from(m![1]!, 'base64').toString('utf8');
  };

  it('uses CRLF everywhere, printable ASCII only', () => {
    expect(bat.endsWith('\r\n')).toBe(true);
    expect(bat.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(bat).toMatch(/^[\x20-\x7e\r\n]*$/);
    expect(lines[0]).toBe('@echo off');
    expect(lines).toContain('setlocal EnableExtensions DisableDelayedExpansion');
  });

  it('checks for administrator rights first and stops without them', () => {
    const admin = lines.indexOf('net session >nul 2>&1');
    expect(admin).toBeGreaterThan(0);
    expect(lines).toContain('fltmc >nul 2>&1');
    expect(lines.slice(admin, admin + 8).join('\n')).toMatch(/FAILURE: administrator rights are required[^\n]*\ngoto :fail/);
    expect(admin).toBeLessThan(lines.findIndex((l) => l.includes('wireguard-installer.exe')));
  });

  it('installs WireGuard for Windows when wireguard.exe is missing', () => {
    expect(lines).toContain('set "WG_EXE=%ProgramFiles%\\WireGuard\\wireguard.exe"');
    expect(lines).toContain('if exist "%WG_EXE%" goto :have_wireguard');
    expect(bat).toContain('curl.exe -fsSL --retry 3 -o "%WGVM_SETUP%" https://download.wireguard.com/windows-client/wireguard-installer.exe');
    expect(bat).toContain("Invoke-WebRequest -UseBasicParsing -Uri 'https://download.wireguard.com/windows-client/wireguard-installer.exe'");
    expect(lines).toContain('start "" /wait "%WGVM_SETUP%"');
  });

  it('writes the config (carried as base64) to %ProgramData%\\wgvm and installs the tunnel service', () => {
    expect(b64Of(bat, 'CONF')).toBe(GOLDEN);
    expect(bat).not.toContain(PRIVATE_KEY); // only inside the base64 blob
    expect(lines).toContain('set "WGVM_CONF=%ProgramData%\\wgvm\\wg0.conf"');
    expect(lines).toContain('icacls "%WGVM_DIR%" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" >nul');
    expect(lines).toContain('"%WG_EXE%" /uninstalltunnelservice "wg0" >nul 2>&1');
    expect(lines).toContain('"%WG_EXE%" /installtunnelservice "%WGVM_CONF%"');
    expect(lines).toContain('sc query "WireGuardTunnel$wg0" | find "RUNNING" >nul');
  });

  it('adds the seed firewall rules, deleting each by name first', () => {
    const rules: Array<[string, string]> = [
      [FIREWALL_RULES.udpIn, 'dir=in action=allow protocol=UDP remoteport=41820'],
      [FIREWALL_RULES.udpOut, 'dir=out action=allow protocol=UDP remoteport=41820'],
      [FIREWALL_RULES.subnet, 'dir=in action=allow remoteip=10.100.0.0/16'],
      [FIREWALL_RULES.icmp, 'dir=in action=allow protocol=icmpv4:8,any remoteip=10.100.0.0/16'],
    ];
    for (const [name, spec] of rules) {
      const del = lines.indexOf(`netsh advfirewall firewall delete rule name="${name}" >nul 2>&1`);
      const add = lines.indexOf(`netsh advfirewall firewall add rule name="${name}" ${spec} >nul`);
      expect(del).toBeGreaterThan(0);
      expect(add).toBe(del + 1);
      expect(lines[add + 1]).toBe('if errorlevel 1 goto :fail_firewall');
    }
  });

  it('sets the four variables machine-wide and pings the hub, with a success and a failure line', () => {
    expect(lines).toContain('setx /M NODE_ID worker-01 >nul');
    expect(lines).toContain('setx /M VPN_IP 10.100.1.2 >nul');
    expect(bat).toContain("[Environment]::SetEnvironmentVariable($name, $value, 'Machine')");
    expect(bat).toContain("foreach ($name in 'DESCRIPTION', 'CENTRAL_SERVER_URL')");
    expect(b64Of(bat, 'DESCRIPTION')).toBe('GPU Server #1');
    expect(b64Of(bat, 'CENTRAL_SERVER_URL')).toBe('http://192.168.0.88:8000');
    expect(lines).toContain('ping -n 3 10.100.0.1 | find "TTL=" >nul');
    expect(bat).toContain('echo SUCCESS: worker node worker-01 is connected: the hub 10.100.0.1 answers through wg0.');
    expect(bat).toMatch(/^:fail_ping\r\necho FAILURE: the hub 10\.100\.0\.1 does not answer/m);
    expect(lines.at(-2)).toBe('exit /b 1');
  });

  it('every label a goto names exists', () => {
    const labels = new Set(lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1)));
    const targets = [...bat.matchAll(/goto :(\w+)/g)].map((m) => m[1]!);
    expect(targets.length).toBeGreaterThan(10);
    for (const t of targets) expect(labels).toContain(t);
  });

  it.each(HOSTILE)('a hostile description %j changes nothing but the base64 blob', (description) => {
    const hostile = renderWindowsBat({ ...base, description });
    expect(b64Of(hostile, 'DESCRIPTION')).toBe(description);
    // Every other line is byte for byte the benign one: nothing from the input reaches cmd.exe.
    const outsideBlob = (text: string) => text.split('\r\n').filter((l) => !l.startsWith('set "WGVM_DESCRIPTION_B64='));
    expect(outsideBlob(hostile)).toEqual(outsideBlob(bat));
    const blobLine = hostile.split('\r\n').find((l) => l.startsWith('set "WGVM_DESCRIPTION_B64='))!;
    expect(blobLine).toMatch(/^set "WGVM_DESCRIPTION_B64=[A-Za-z0-9+/=]*"$/);
    expect(hostile).toMatch(/^[\x20-\x7e\r\n]*$/);
  });

  it('a central server URL with & and % is carried the same way', () => {
    const url = 'http://central.example.com:8000/?a=1&b=%PATH%&c=(x)';
    const text = renderWindowsBat({ ...base, centralServerUrl: url });
    expect(b64Of(text, 'CENTRAL_SERVER_URL')).toBe(url);
    expect(text).not.toContain('&b=');
    expect(b64Of(renderWindowsBat({ ...base, centralServerUrl: null }), 'CENTRAL_SERVER_URL')).toBe('');
  });

  it.each(NEWLINES)('rejects a description with a control character %j', (description) => {
    for (const render of [renderWindowsBat, renderPosixShell, renderWorkerEnv]) {
      expect(() => render({ ...base, description })).toThrow(InstallInputError);
      expect(() => render({ ...base, description })).toThrow(/description: must not contain newlines/);
    }
  });

  it('rejects a description too long for a cmd.exe line', () => {
    expect(() => renderWindowsBat({ ...base, description: 'x'.repeat(1025) })).toThrow(InstallInputError);
    expect(() => renderWindowsBat({ ...base, description: '서'.repeat(1024) })).not.toThrow();
  });

  it('without a private key: takes a key file as %~1, or stops with a clear message', () => {
    const text = renderWindowsBat(ownKey);
    const l = text.split('\r\n');
    expect(l).toContain('set "WGVM_KEYFILE=%~1"');
    expect(l).toContain('if not defined WGVM_KEYFILE goto :need_key');
    expect(l).toContain('if not exist "%WGVM_KEYFILE%" goto :need_key');
    expect(text).toContain('echo FAILURE: this node was registered with its own public key, so this installer has no private key.');
    // The key check and the PrivateKey line are PowerShell's; the rest of the config is the blob.
    expect(text).toContain("if ($k -cnotmatch '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$')");
    expect(text).toContain("$c = '[Interface]' + $n + 'PrivateKey = ' + $k + $n + ");
    expect(b64Of(text, 'CONF')).toBe(GOLDEN.slice(GOLDEN.indexOf('Address')));
    expect(l.indexOf(':need_key')).toBeLessThan(l.findIndex((x) => x.includes('/installtunnelservice')));
    expect(renderWindowsBat(base)).not.toContain('%~1');
  });
});

describe('renderPosixShell', () => {
  const script = renderPosixShell(base);

  it('is a POSIX sh script that `sh -n` accepts, with and without a private key', () => {
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script.split('\n')).toContain('set -eu');
    expect(script).not.toContain('\r');
    for (const input of [base, ownKey, { ...base, dns: ['1.1.1.1'], configUrl: 'https://vpn.example.com:8090/install/abc' }]) {
      const path = tempFile('install.sh', renderPosixShell(input));
      const r = spawnSync('sh', ['-n', path], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it.skipIf(!hasTool('shellcheck'))('passes shellcheck (when it is installed)', () => {
    for (const input of [base, ownKey, { ...base, dns: ['1.1.1.1'], description: "it's $(id) `id`" }]) {
      const path = tempFile('install.sh', renderPosixShell(input));
      const r = spawnSync('shellcheck', ['-s', 'sh', path], { encoding: 'utf8' });
      expect(r.stdout).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('requires root, installs wireguard-tools with the platform package manager when wg is missing', () => {
    expect(script).toContain('[ "$(id -u)" -eq 0 ] || fail "run this installer as root: sudo sh $0"');
    expect(script).toContain('if ! command -v wg >/dev/null 2>&1 || ! command -v wg-quick >/dev/null 2>&1; then');
    for (const cmd of [
      'apt-get install -y --no-install-recommends wireguard-tools',
      'dnf install -y wireguard-tools',
      'yum install -y wireguard-tools',
      'pacman -Sy --noconfirm --needed wireguard-tools',
      'apk add --no-cache wireguard-tools',
      'zypper --non-interactive install wireguard-tools',
      'sudo -u "$SUDO_USER" brew install wireguard-tools',
    ]) {
      expect(script).toContain(cmd);
    }
  });

  it('writes the config through a quoted here-document after umask 077, then mode 0600', () => {
    const l = script.split('\n');
    const umask = l.indexOf('umask 077');
    const cat = l.indexOf(`cat > "$WGVM_CONF.tmp" <<'WGVM_EOF'`);
    expect(umask).toBeGreaterThan(0);
    expect(cat).toBeGreaterThan(umask);
    expect(l.slice(cat + 1, l.indexOf('WGVM_EOF', cat)).join('\n') + '\n').toBe(GOLDEN);
    expect(script).toContain("WGVM_CONF='/etc/wireguard/wg0.conf'");
    expect(script).toContain('chmod 600 "$WGVM_CONF.tmp"\nmv -f "$WGVM_CONF.tmp" "$WGVM_CONF"\n');
  });

  it('brings the tunnel up with wg-quick, through wgvm-userspace or wireguard-go without a kernel module, and enables it at boot', () => {
    expect(script).toContain('wg-quick up "$WGVM_IFACE"');
    expect(script).toContain('[ ! -d /sys/module/wireguard ] && ! modprobe wireguard >/dev/null 2>&1; then');
    expect(script).toContain('WG_QUICK_USERSPACE_IMPLEMENTATION=$(command -v wgvm-userspace)');
    expect(script).toContain('WG_QUICK_USERSPACE_IMPLEMENTATION=$(command -v wireguard-go)');
    expect(script).toContain('export WG_QUICK_USERSPACE_IMPLEMENTATION');
    expect(script).toContain('systemctl enable "wg-quick@$WGVM_IFACE"');
    expect(script).toContain('Environment="WG_QUICK_USERSPACE_IMPLEMENTATION=%s"');
    expect(script).toContain('if ping -c 3 "$WGVM_HUB_IP" >/dev/null 2>&1; then');
    expect(script).toContain('say "SUCCESS: worker node worker-01 is connected');
    expect(script).toContain('fail "the hub $WGVM_HUB_IP does not answer through $WGVM_IFACE');
  });

  it('run for real: the config section writes the exact config with mode 0600', () => {
    const dir = mkdtempSync(join(work, 'etc-'));
    const part = section(script, 'umask 077', 'say "Wrote $WGVM_CONF').replaceAll('/etc/wireguard', dir);
    const r = sh(`${SH_PRELUDE}WGVM_CONF='${dir}/wg0.conf'\n${part}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'wg0.conf'), 'utf8')).toBe(GOLDEN);
    expect(statSync(join(dir, 'wg0.conf')).mode & 0o777).toBe(0o600);
  });

  it.skipIf(skipWithout('wg'))('run for real without a private key: reads <iface>.key, or stops with a clear message', () => {
    requireTools('wg');
    const text = renderPosixShell(ownKey);
    expect(text).toContain("WGVM_KEY_FILE='/etc/wireguard/wg0.key'");
    const dir = mkdtempSync(join(work, 'etc-'));
    const part = section(text, 'umask 077', 'say "Wrote $WGVM_CONF').replaceAll('/etc/wireguard', dir);
    const run = () => sh(`${SH_PRELUDE}WGVM_CONF='${dir}/wg0.conf'\n${part}`);

    const missing = run();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('FAILURE: this node was registered with its own public key');
    expect(missing.stderr).toContain(`${dir}/wg0.key`);

    writeFileSync(join(dir, 'wg0.key'), 'not a key at all\n', { mode: 0o600 });
    expect(run().stderr).toContain('does not hold a WireGuard private key');

    writeFileSync(join(dir, 'wg0.key'), PRIVATE_KEY + '\n', { mode: 0o600 });
    const ok = run();
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const pub = spawnSync('wg', ['pubkey'], { input: PRIVATE_KEY, encoding: 'utf8' }).stdout.trim();
    expect(ok.stdout).toContain(`its public key, which must be the one registered, is ${pub}`);
    expect(readFileSync(join(dir, 'wg0.conf'), 'utf8')).toBe(GOLDEN);
    expect(statSync(join(dir, 'wg0.conf')).mode & 0o777).toBe(0o600);
  });

  describe('a config with DNS on a host without resolvconf (wg-quick needs it for the DNS line)', () => {
    const withDns: WorkerInstall = { ...base, dns: ['10.100.0.1', 'wg.internal'] };
    const text = renderPosixShell(withDns);
    const conf = GOLDEN.replace('Address = 10.100.1.2/32\n', 'Address = 10.100.1.2/32\nDNS = 10.100.0.1, wg.internal\n');

    /**
     * Runs the DNS step and the config step with a PATH holding only the basic tools and the given
     * stubs (name → script body): the host's own resolvconf or resolvectl cannot interfere.
     */
    function runWith(stubs: Record<string, string>) {
      const bin = mkdtempSync(join(work, 'bin-'));
      for (const tool of ['sed', 'mv', 'rm', 'chmod', 'mkdir', 'cat', 'touch']) {
        const real = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
        writeFileSync(join(bin, tool), `#!/bin/sh\nexec ${real} "$@"\n`, { mode: 0o755 });
      }
      for (const [name, body] of Object.entries(stubs)) writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      const dir = mkdtempSync(join(work, 'etc-'));
      const steps = section(text, '# 1b.', 'esac') + section(text, 'umask 077', 'say "Wrote $WGVM_CONF').replaceAll('/etc/wireguard', dir);
      const r = sh(`${SH_PRELUDE}PATH='${bin}'\nWGVM_OS=Linux\nWGVM_CONF='${dir}/wg0.conf'\n${steps}`);
      return { ...r, conf: readFileSync(join(dir, 'wg0.conf'), 'utf8'), mode: statSync(join(dir, 'wg0.conf')).mode & 0o777, bin };
    }

    it('with resolvconf: the DNS line stays for wg-quick', () => {
      const r = runWith({ resolvconf: 'exit 0' });
      expect(r.code).toBe(0);
      expect(r.conf).toBe(conf);
    });

    it('with systemd-resolved: a PostUp line sets the DNS server and search domain with resolvectl instead', () => {
      const r = runWith({ resolvectl: 'exit 0' });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('No resolvconf: the DNS of the tunnel is set with resolvectl');
      expect(r.conf).toBe(conf.replace(/^DNS = .*$/m, 'PostUp = resolvectl dns %i 10.100.0.1; resolvectl domain %i wg.internal'));
      expect(r.mode).toBe(0o600);
    });

    it('a resolvectl whose service is not running does not count; apt-get installs openresolv and the DNS line stays', () => {
      const r = runWith({ resolvectl: 'exit 1', 'apt-get': 'echo "apt-get $*" >&2; printf "#!/bin/sh\\n" > "$(dirname "$0")/resolvconf"' });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('apt-get install -y --no-install-recommends openresolv');
      expect(r.conf).toBe(conf);
    });

    it('with neither: the tunnel still comes up, without the DNS line, and a warning says what will not resolve', () => {
      const r = runWith({ 'apt-get': 'exit 100' });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('WARNING: neither resolvconf nor systemd-resolved is here: the tunnel comes up without its DNS line (10.100.0.1, wg.internal)');
      expect(r.stdout).toContain('names in wg.internal do not resolve by themselves (dig @10.100.0.1 still answers)');
      expect(r.conf).toBe(GOLDEN);
      expect(r.mode).toBe(0o600);
    });

    it('without DNS in the config the installer has no DNS step at all', () => {
      expect(script).not.toContain('# 1b.');
      expect(script).not.toContain('resolvconf');
    });
  });

  it.each(HOSTILE)('run for real: the env section stores the hostile description %j exactly', (description) => {
    const text = renderPosixShell({ ...base, description });
    const dir = mkdtempSync(join(work, 'env-'));
    const part = section(text, 'mkdir -p "$(dirname "$WGVM_ENV_FILE")"', 'say "Wrote $WGVM_ENV_FILE"');
    const r = sh(`${SH_PRELUDE}WGVM_ENV_FILE='${dir}/worker.env'\n${part}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'worker.env'), 'utf8')).toBe(renderWorkerEnv({ ...base, description }));
    const read = sh('. "$1"; printf %s "$DESCRIPTION"', [join(dir, 'worker.env')]);
    expect(read.stderr).toBe('');
    expect(read.stdout).toBe(description);
  });
});

describe('renderPosixShell with the worker agent', () => {
  const CREDENTIAL = 'Zx9_k-3mQ7xV1cR8tZ0bL5nW4yH6jD2sA9eG1uP7oIq';
  const withAgent: WorkerInstall = { ...base, agent: { hubUrl: 'http://203.0.113.10:8090', credential: CREDENTIAL } };
  const text = renderPosixShell(withAgent);
  const agentScript = readFileSync(new URL('../../agent/wgvm-agent', import.meta.url), 'utf8');

  it('sh -n accepts it; the agent step comes after the env file, and pinging the hub stays last', () => {
    const r = spawnSync('sh', ['-n', tempFile('install.sh', text)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const l = text.split('\n');
    const env = l.indexOf('say "Wrote $WGVM_ENV_FILE"');
    const agent = l.findIndex((x) => x.startsWith('# 5b. The worker agent'));
    const ping = l.findIndex((x) => x.startsWith('# 6. Does the hub answer'));
    expect(env).toBeGreaterThan(0);
    expect(agent).toBeGreaterThan(env);
    expect(ping).toBeGreaterThan(agent);
    expect(l.findIndex((x, n) => n > ping && x.startsWith('# '))).toBe(-1);
  });

  it('without an agent (null) nothing of it is in the installer', () => {
    for (const input of [base, ownKey]) {
      expect(renderPosixShell(input)).not.toContain('wgvm-agent');
      expect(renderPosixShell(input)).not.toContain('# 5b.');
      expect(renderWindowsBat({ ...input, agent: null })).not.toContain('agent');
    }
  });

  it('run for real: writes the script byte for byte (0755) and the configuration (0600) with the five values', () => {
    const d = mkdtempSync(join(work, 'agent-'));
    const part = section(text, 'WGVM_AGENT=', 'say "Wrote $WGVM_AGENT and')
      .replace(`WGVM_AGENT='/usr/local/sbin/wgvm-agent'`, `WGVM_AGENT='${d}/sbin/wgvm-agent'`)
      .replace(`WGVM_AGENT_CONF='/etc/wgvm/agent.conf'`, `WGVM_AGENT_CONF='${d}/etc/agent.conf'`);
    const r = sh(`${SH_PRELUDE}${part}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(d, 'sbin', 'wgvm-agent'), 'utf8')).toBe(agentScript);
    expect(statSync(join(d, 'sbin', 'wgvm-agent')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(d, 'etc', 'agent.conf'), 'utf8')).toBe(
      '# wireguard-vpn-manager worker agent (read by wgvm-agent, never sourced): docs/agent-protocol.md\n' +
        `WGVM_HUB_URL=http://203.0.113.10:8090\nWGVM_AGENT_TOKEN=${CREDENTIAL}\nWGVM_IFACE=wg0\n` +
        `WGVM_HUB_PUBLIC_KEY=${HUB_PUBLIC_KEY}\nWGVM_SUBNET=10.100.0.0/16\n`,
    );
    expect(statSync(join(d, 'etc', 'agent.conf')).mode & 0o777).toBe(0o600);
    // The written script is the agent: it answers --help.
    const help = spawnSync('sh', [join(d, 'sbin', 'wgvm-agent'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: wgvm-agent');
  });

  it('under systemd: a wgvm-agent service after wg-quick@<iface>, restarted on failure, enabled and started now', () => {
    const unit = section(text, "  cat > '/etc/systemd/system/wgvm-agent.service'", '  chmod 644');
    expect(unit).toContain(
      [
        '[Unit]',
        'Description=wireguard-vpn-manager worker agent (direct paths between workers)',
        'After=wg-quick@wg0.service network-online.target',
        'Wants=wg-quick@wg0.service network-online.target',
        '',
        '[Service]',
        'ExecStart=/usr/local/sbin/wgvm-agent',
        'Restart=always',
        'RestartSec=5',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
      ].join('\n'),
    );
    expect(text).toContain('  if systemctl enable --now wgvm-agent >/dev/null 2>&1; then');
    expect(text).toContain('to turn it off on this worker: systemctl disable --now wgvm-agent');
    expect(text).toContain('say "No systemd: run the worker agent with: $WGVM_AGENT & (or from your init system');
    expect(text).toContain('say "macOS: run the worker agent with: sudo $WGVM_AGENT &');
    expect(text).toContain('apt-get install -y --no-install-recommends curl');
  });

  it.each([
    ['a URL with a path', { hubUrl: 'http://203.0.113.10:8090/api', credential: CREDENTIAL }, 'agent.hubUrl'],
    ['a URL with a quote', { hubUrl: "http://hub'x", credential: CREDENTIAL }, 'agent.hubUrl'],
    ['a URL with a space', { hubUrl: 'http://hub x', credential: CREDENTIAL }, 'agent.hubUrl'],
    ['a non-http URL', { hubUrl: 'ftp://hub', credential: CREDENTIAL }, 'agent.hubUrl'],
    ['a port over 65535', { hubUrl: 'http://hub:70000', credential: CREDENTIAL }, 'agent.hubUrl'],
    ['a short credential', { hubUrl: 'https://hub.example.com', credential: 'abc' }, 'agent.credential'],
    ['a credential with base64 padding characters', { hubUrl: 'https://hub.example.com', credential: CREDENTIAL.slice(0, 42) + '=' }, 'agent.credential'],
    ['a here-document delimiter as credential', { hubUrl: 'https://hub.example.com', credential: 'WGVM_AGENT_CONF_EOF' }, 'agent.credential'],
  ])('rejects %s', (_what, agent, field) => {
    expect(() => renderPosixShell({ ...base, agent })).toThrow(InstallInputError);
    expect(() => renderPosixShell({ ...base, agent })).toThrow(field);
  });

  it('accepts https, host names and bracketed IPv6 hubs', () => {
    for (const hubUrl of ['https://vpn.example.com', 'https://vpn.example.com:8443', 'http://[2001:db8::1]:8090']) {
      expect(renderPosixShell({ ...base, agent: { hubUrl, credential: CREDENTIAL } })).toContain(`WGVM_HUB_URL=${hubUrl}\n`);
    }
  });
});

describe('renderWorkerEnv', () => {
  it('writes the seed variables, bare when sh and docker read them alike', () => {
    expect(renderWorkerEnv(base)).toBe(
      '# wireguard-vpn-manager worker environment (sh: `. worker.env`; docker: --env-file)\n' +
        "NODE_ID=worker-01\nDESCRIPTION='GPU Server #1'\nCENTRAL_SERVER_URL=http://192.168.0.88:8000\nVPN_IP=10.100.1.2\n",
    );
    expect(renderWorkerEnv({ ...base, centralServerUrl: null })).toContain('\nCENTRAL_SERVER_URL=\n');
  });

  it.each([...HOSTILE, "'", "''", "a'b'c", '\\\'', '$HOME ${PATH} $((1+1))', '~', 'a=b', '#comment', '*'])(
    'sourcing it in sh gives back %j exactly, running nothing',
    (description) => {
      const url = "http://c.example.com/?q='x'&y=$(id)&z=~";
      const path = tempFile('worker.env', renderWorkerEnv({ ...base, description, centralServerUrl: url }));
      const r = sh(
        '. "$1"; printf "%s\\n" "$NODE_ID" "$DESCRIPTION" "$CENTRAL_SERVER_URL" "$VPN_IP"',
        [path],
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`worker-01\n${description}\n${url}\n10.100.1.2\n`);
    },
  );

  it('has one line per variable, so docker --env-file sees the same names', () => {
    for (const description of HOSTILE) {
      const lines = renderWorkerEnv({ ...base, description }).split('\n').filter((l) => l && !l.startsWith('#'));
      expect(lines.map((l) => l.slice(0, l.indexOf('=')))).toEqual(['NODE_ID', 'DESCRIPTION', 'CENTRAL_SERVER_URL', 'VPN_IP']);
    }
  });
});

// jsqr is CommonJS whose types declare an ES default export: loaded as what it is, a function.
const jsQR = createRequire(import.meta.url)('jsqr') as (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;

/**
 * Reads a QR code back from the SVG as a scanner would: the SVG's rectangles (each subpath of the
 * path is one, in M/h/v/z commands) painted onto a bitmap, 4 pixels a module, and decoded by jsQR, a
 * decoder written independently of the encoder.
 */
function decodeSvg(svg: string): string | null {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)![1]);
  const scale = 4;
  const width = size * scale;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  const d = /<path[^>]* d="([^"]*)"/.exec(svg)![1]!;
  for (const sub of d.split(/z/i).filter((p) => p.trim())) {
    const tokens = sub.match(/[MmHhVv]|-?\d+(?:\.\d+)?/g)!;
    let x = 0, y = 0, minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < tokens.length; ) {
      const cmd = tokens[i++]!;
      if (cmd === 'M') (x = Number(tokens[i++])), (y = Number(tokens[i++]));
      else if (cmd === 'm') (x += Number(tokens[i++])), (y += Number(tokens[i++]));
      else if (cmd === 'h') x += Number(tokens[i++]);
      else if (cmd === 'H') x = Number(tokens[i++]);
      else if (cmd === 'v') y += Number(tokens[i++]);
      else if (cmd === 'V') y = Number(tokens[i++]);
      else throw new Error(`path command ${cmd} not expected in a QR code`);
      [minX, minY, maxX, maxY] = [Math.min(minX, x), Math.min(minY, y), Math.max(maxX, x), Math.max(maxY, y)];
    }
    for (let py = minY * scale; py < maxY * scale; py++) {
      for (let px = minX * scale; px < maxX * scale; px++) pixels.fill(0, (py * width + px) * 4, (py * width + px) * 4 + 3);
    }
  }
  return jsQR(pixels, width, width)?.data ?? null;
}

describe('qrSvg', () => {
  it('renders an SVG document with a white background (it scans in a dark theme)', async () => {
    const svg = await qrSvg(renderWgQuick(base));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    expect(svg).toMatch(/<rect width="(\d+)" height="\1" fill="#fff"\/>/);
  });

  it('decodes back to the exact config (keys included) and to the install URL', async () => {
    const config = renderWgQuick(base);
    expect(config).toContain('PrivateKey = ');
    expect(decodeSvg(await qrSvg(config))).toBe(config);
    const url = 'https://vpn.example.com:8090/install/3f9K2mQ7xV1cR8tZ0bL5nW4yH6jD2sA9eG1uP7oI';
    expect(decodeSvg(await qrSvg(url))).toBe(url);
    // The decoder can fail: a code with its top-left finder pattern painted out is not read.
    const broken = (await qrSvg(url)).replace(/ d="/, ' d="M0 0h11v11h-11z');
    expect(decodeSvg(broken)).not.toBe(url);
  });
});
