import { describe, expect, it } from 'vitest';
import { downloadName, downloadType, isRasterImage } from '../src/download';

describe('downloads of server content', () => {
  it('are application/octet-stream unless they are an allowlisted raster image', () => {
    for (const type of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']) {
      expect(downloadType(type)).toBe(type);
      expect(isRasterImage(type)).toBe(true);
    }
    expect(downloadType('IMAGE/PNG; x=y')).toBe('image/png');
    // What a blob: URL opened as a page would run as this app, and anything unknown.
    for (const type of [
      'image/svg+xml',
      'text/html',
      'application/xhtml+xml',
      'text/xml',
      'application/xml',
      'text/javascript',
      'application/pdf',
      'audio/wav',
      'text/plain',
      'image/png+html',
      'image/x-unknown',
      '',
      undefined,
    ]) {
      expect(downloadType(type), String(type)).toBe('application/octet-stream');
      expect(isRasterImage(type)).toBe(false);
    }
  });

  it('keep a sensible name, with the extension of their type when they have none', () => {
    expect(downloadName('swatch.png', 'image/png')).toBe('swatch.png');
    expect(downloadName('audio-1', 'audio/wav')).toBe('audio-1.wav');
    expect(downloadName('badge', 'image/svg+xml')).toBe('badge.svg');
    expect(downloadName('report', 'application/pdf; charset=binary')).toBe('report.pdf');
    expect(downloadName('blob', undefined)).toBe('blob');
    expect(downloadName('data', 'application/x-unknown')).toBe('data');
    // Its own extension is kept, even when the type says otherwise: the type is what is distrusted.
    expect(downloadName('page.html', 'text/plain')).toBe('page.html');
    // No paths, hidden files, control or reserved characters; never empty; bounded, extension kept.
    expect(downloadName('../../etc/passwd', 'text/plain')).toBe('passwd.txt');
    expect(downloadName('C:\\Users\\x\\run.bat', undefined)).toBe('run.bat');
    expect(downloadName('.bashrc', undefined)).toBe('bashrc');
    expect(downloadName('a\u0000b\nc:d*e?.txt', 'text/plain')).toBe('a_b_c_d_e_.txt');
    expect(downloadName('...', 'image/png')).toBe('download.png');
    const long = downloadName(`${'x'.repeat(300)}.png`, 'image/png');
    expect(long).toHaveLength(100);
    expect(long.endsWith('.png')).toBe(true);
  });
});
