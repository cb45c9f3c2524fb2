/**
 * Downloads of content an MCP server sent. They are blob: URLs, and a blob: URL belongs to this app's
 * origin: opened rather than saved (a middle click, "open in new tab", a browser that ignores
 * `download`), a blob typed text/html or image/svg+xml would run its script as this app. So the type
 * is never the one the server chose, except for raster images, which cannot carry script.
 */

/** Raster image types a download may keep (they are shown as a preview too), with their extension. */
const RASTER_IMAGES: ReadonlyMap<string, string> = new Map([
  ['image/png', 'png'],
  ['image/jpeg', 'jpg'],
  ['image/gif', 'gif'],
  ['image/webp', 'webp'],
  ['image/avif', 'avif'],
  ['image/bmp', 'bmp'],
]);

/** Extensions for other common types: a download typed application/octet-stream still opens right once saved. */
const EXTENSIONS: ReadonlyMap<string, string> = new Map([
  ['image/svg+xml', 'svg'],
  ['image/x-icon', 'ico'],
  ['image/tiff', 'tiff'],
  ['audio/mpeg', 'mp3'],
  ['audio/mp4', 'm4a'],
  ['audio/wav', 'wav'],
  ['audio/x-wav', 'wav'],
  ['audio/ogg', 'ogg'],
  ['audio/webm', 'weba'],
  ['audio/flac', 'flac'],
  ['video/mp4', 'mp4'],
  ['video/webm', 'webm'],
  ['application/pdf', 'pdf'],
  ['application/json', 'json'],
  ['application/zip', 'zip'],
  ['application/gzip', 'gz'],
  ['application/xml', 'xml'],
  ['text/plain', 'txt'],
  ['text/csv', 'csv'],
  ['text/markdown', 'md'],
  ['text/html', 'html'],
  ['text/xml', 'xml'],
]);

/** "Image/PNG; charset=x" → "image/png"; undefined for nothing. */
function essence(mimeType: string | undefined): string | undefined {
  const type = mimeType?.split(';', 1)[0]?.trim().toLowerCase();
  return type || undefined;
}

/** The type a downloaded blob gets: an allowlisted raster image type as it is, anything else application/octet-stream. */
export function downloadType(mimeType: string | undefined): string {
  const type = essence(mimeType);
  return type !== undefined && RASTER_IMAGES.has(type) ? type : 'application/octet-stream';
}

/** Whether `downloadType` keeps this type: an image the page may preview and download as what it is. */
export function isRasterImage(mimeType: string | undefined): boolean {
  const type = essence(mimeType);
  return type !== undefined && RASTER_IMAGES.has(type);
}

const MAX_NAME_LENGTH = 100;

/**
 * The name a download is saved under: the last segment of `name`, without control or reserved characters
 * or leading dots, at most 100 characters, with the extension of its type added when it has none
 * ("audio-1" of audio/wav → "audio-1.wav"); "download" when nothing is left.
 */
export function downloadName(name: string, mimeType: string | undefined): string {
  let base = (name.split(/[/\\]/).pop() ?? '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]+/g, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[.\s]+/, '');
  if (!base) base = 'download';
  const type = essence(mimeType);
  const extension = type !== undefined ? (RASTER_IMAGES.get(type) ?? EXTENSIONS.get(type)) : undefined;
  const own = /\.[A-Za-z0-9]{1,8}$/.exec(base)?.[0];
  const stem = own ? base.slice(0, -own.length) : base;
  const ending = own ?? (extension ? `.${extension}` : '');
  // Shortened at the stem: the extension stays.
  return `${stem.slice(0, MAX_NAME_LENGTH - ending.length)}${ending}`;
}
