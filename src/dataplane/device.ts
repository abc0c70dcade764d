// Opens the native device with a clear error when it cannot be had, and configures it.
import { loadNative, type DeviceEvent, type NativeDevice, type PeerSnapshot } from './native.js';

export type { DeviceEvent, NativeDevice, PeerSnapshot };

export class DeviceOpenError extends Error {
  override name = 'DeviceOpenError';
}

export interface DeviceOptions {
  mtu?: number;
  /** Crypto threads; undefined: one per core. */
  threads?: number | undefined;
  onEvent?: (e: DeviceEvent) => void;
}

export function openDevice(iface: string, options: DeviceOptions = {}): NativeDevice {
  const { Device } = loadNative();
  try {
    return new Device(iface, options);
  } catch (err) {
    throw new DeviceOpenError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Applies a UAPI `set=1` body, or throws naming the refused line (never its value). The device checks
 * the whole body before applying any of it: when it refuses, it is as it was.
 */
export function configureDevice(device: Pick<NativeDevice, 'set'>, body: string): void {
  const result = device.set(body);
  if (result.errno !== 0) throw new Error(`the device refused its configuration: ${result.message}`);
}
