// QR codes for the install page: the wg-quick config (for the mobile apps) and the page's own URL.
import QRCode from 'qrcode';

/** An SVG document (a string starting with `<svg`) encoding `text`, error correction level M. */
export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}
