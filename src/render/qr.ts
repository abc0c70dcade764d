// QR codes for the install page: the wg-quick config (for the mobile apps) and the page's own URL.
// The matrix comes from `qr` (no dependencies of its own); the SVG is drawn here: dark modules as one
// path of horizontal runs on a white square, so the code scans in a dark theme too.
import encodeQR from 'qr';

/** The quiet zone around the code, in modules (the standard asks for 4; scanners read 2 well). */
const BORDER = 2;

/** An SVG document (a string starting with `<svg`) encoding `text`, error correction level M. */
export async function qrSvg(text: string): Promise<string> {
  const modules = encodeQR(text, 'raw', { ecc: 'medium', border: BORDER });
  const size = modules.length;
  let path = '';
  modules.forEach((row, y) => {
    for (let x = 0; x < size; ) {
      if (!row[x]) {
        x++;
        continue;
      }
      let run = 1;
      while (x + run < size && row[x + run]) run++;
      path += `M${x} ${y}h${run}v1h-${run}z`;
      x += run;
    }
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`
  );
}
