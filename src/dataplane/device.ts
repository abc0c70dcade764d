// Opens the native device with a clear error when it cannot be had.
import { loadNative, type DeviceEvent, type NativeDevice } from './native.js';

export type { DeviceEvent, NativeDevice };

export class DeviceOpenError extends Error {
  override name = 'DeviceOpenError';
}

export function openDevice(iface: string, options: { mtu?: number; onEvent?: (e: DeviceEvent) => void } = {}): NativeDevice {
  const { Device } = loadNative();
  try {
    return new Device(iface, options);
  } catch (err) {
    throw new DeviceOpenError(err instanceof Error ? err.message : String(err));
  }
}
