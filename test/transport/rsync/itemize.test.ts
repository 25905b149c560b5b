import { describe, expect, it } from 'vitest';
import { parseItemizeLine, unescapeRsyncName } from '../../../src/transport/rsync/itemize.js';

describe('parseItemizeLine', () => {
  it('reads received files, created dirs, symlinks and hard links', () => {
    expect(parseItemizeLine('>f+++++++++ cur/m1:2,S')).toEqual({ update: 'received', type: 'file', isNew: true, path: 'cur/m1:2,S' });
    expect(parseItemizeLine('cd+++++++++ .Sent/')).toEqual({ update: 'created', type: 'dir', isNew: true, path: '.Sent/' });
    expect(parseItemizeLine('cL+++++++++ .info@example_com -> example.com/info')).toEqual({
      update: 'created', type: 'symlink', isNew: true, path: '.info@example_com', linkTo: 'example.com/info',
    });
    expect(parseItemizeLine('hf+++++++++ .Sent/cur/hl => cur/m1:2,S')).toEqual({
      update: 'hardlink', type: 'file', isNew: true, path: '.Sent/cur/hl', linkTo: 'cur/m1:2,S',
    });
    expect(parseItemizeLine('>f.st...... dovecot-uidlist')).toMatchObject({ update: 'received', isNew: false });
    expect(parseItemizeLine('<f+++++++++ cur/a')).toMatchObject({ update: 'sent' });
  });

  it('keeps names with spaces and arrows-looking text in regular files intact', () => {
    expect(parseItemizeLine('>f+++++++++ cur/a -> b')?.path).toBe('cur/a -> b');
    expect(parseItemizeLine('cd+++++++++ .$(touch x) y/')?.path).toBe('.$(touch x) y/');
  });

  it('unescapes names rsync printed with \\#ooo escapes', () => {
    expect(parseItemizeLine('>f+++++++++ cur/new\\#012line')?.path).toBe('cur/new\nline');
    expect(unescapeRsyncName('a\\#011b\\#')).toBe('a\tb\\#');
  });

  it('ignores lines that are not items', () => {
    expect(parseItemizeLine('Number of files: 14 (reg: 7, dir: 6, link: 1)')).toBeUndefined();
    expect(parseItemizeLine('      1,500,000  83%  466.42MB/s    0:00:00 (xfr#5, to-chk=1/14)')).toBeUndefined();
    expect(parseItemizeLine('created directory d2')).toBeUndefined();
    expect(parseItemizeLine('*deleting   cur/x')).toEqual({ update: 'message', text: 'deleting', path: 'cur/x' });
  });
});
