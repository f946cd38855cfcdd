import { Box, Text } from 'ink';
import { useScreen } from '../hooks/useScreen.ts';
import { useEffect, useState } from 'react';
import type { ImageInfo } from '../../ops/console-session.ts';
import { formatBytes } from '../../ops/sizes.ts';
import { Field } from '../components/Fields.tsx';
import { Frame } from '../components/Frame.tsx';
import { ListView, moveIndex } from '../components/ListView.tsx';
import { TextField } from '../components/TextField.tsx';
import { useBody, useTheme } from '../context.tsx';
import { useAsync, type AsyncState } from '../hooks/useAsync.ts';
import { useSpinner } from '../hooks/useSpinner.ts';
import { movement, type Binding } from '../keys.ts';
import { fit, padEnd } from '../text.ts';
import { Prompt, quitKeys } from './common.tsx';

type Mode = 'repos' | 'tags' | 'type' | 'host' | 'login';

/** `host/repo:tag` on this registry -> its repository and tag. */
function chosenOn(reference: string | undefined, host: string | undefined): { repo: string; tag: string } | undefined {
  if (!reference || !host || !reference.startsWith(`${host}/`)) return undefined;
  const m = /^([^@]+):([^:/@]+)$/.exec(reference.slice(host.length + 1));
  return m ? { repo: m[1]!, tag: m[2]! } : undefined;
}

const errorOf = (s: AsyncState<unknown>) => (s.status === 'error' ? s.error : undefined);
const isAuth = (s: AsyncState<unknown>) => s.status === 'error' && s.error.name === 'RegistryAuthRequired';

export const kindOf = (i: ImageInfo) =>
  i.os === 'windows'
    ? 'Windows WIM'
    : i.layers > 1
      ? 'Linux container image'
      : i.os === 'linux'
        ? `Linux rootfs${i.format ? ` (${i.format})` : ''}`
        : 'unknown: the first bytes will tell (installed as Linux)';

function Details({ info, lines }: { info: AsyncState<ImageInfo | undefined>; lines: number }) {
  const theme = useTheme();
  const { width } = useBody();
  const spin = useSpinner(info.status === 'loading');
  if (info.status === 'loading') return <Text color={theme.colour.muted}>{`${spin} reading the manifest`}</Text>;
  if (info.status === 'error') {
    return <Text color={theme.colour.bad}>{fit(isAuth(info) ? 'the registry wants credentials' : info.error.message, width, theme.glyphs.ellipsis)}</Text>;
  }
  const i = info.value;
  if (!i) return null;
  const rows: [string, string, string?, number?][] = [
    ['Reference', i.reference],
    ['Kind', kindOf(i), i.os === 'unknown' ? theme.colour.warn : theme.colour.ok],
    ...(i.osName ? [['OS', i.osName] as [string, string]] : []),
    ['Size', i.layers > 1 ? `${formatBytes(i.size)} in ${i.layers} layers` : formatBytes(i.size)],
    ['Digest', i.platform ? `${i.manifestDigest} (${i.platform})` : i.manifestDigest, undefined, 2],
    ['Media type', i.mediaType],
    ['Artifact', i.artifactType ?? '-'],
    ['File', i.title ?? '-'],
  ];
  return (
    <Box flexDirection="column">
      {rows.slice(0, Math.max(0, lines - 1)).map(([l, v, c, n]) => (
        <Field key={l} label={l} value={v} colour={c} lines={n} />
      ))}
    </Box>
  );
}

export function ImageScreen() {
  const { session, w, theme, width, height, confirm, spin } = useScreen();
  const [gen, setGen] = useState(0);
  const host = session.registry().host;
  // Coming back: open at the chosen image's tag on this registry.
  const chosen = chosenOn(w.state.image?.reference, host);
  const [mode, setMode] = useState<Mode>(host ? (chosen ? 'tags' : 'repos') : 'type');
  const [before, setBefore] = useState<Mode>('repos');
  const [repo, setRepo] = useState<string | undefined>(chosen?.repo);
  const [ri, setRi] = useState(0);
  const [pickedTag, setTi] = useState<number | undefined>();
  const [typed, setTyped] = useState(w.state.image?.reference ?? '');
  const [submitted, setSubmitted] = useState<string>();
  const [hostText, setHostText] = useState(host ?? '');
  const [user, setUser] = useState('');
  const [pass, setPass] = useState('');
  const [loginField, setLoginField] = useState(0);
  const [message, setMessage] = useState<string>();

  const repos = useAsync(() => (host ? session.repositories() : Promise.resolve([] as string[])), [host, gen]);
  const tags = useAsync(() => (repo ? session.tags(repo) : Promise.resolve([] as string[])), [repo, gen]);
  const tagList = tags.status === 'ok' ? tags.value : [];
  const ti = pickedTag ?? Math.max(0, chosen && repo === chosen.repo ? tagList.indexOf(chosen.tag) : 0);
  const repoList = repos.status === 'ok' ? repos.value : [];
  const shownMode = mode === 'login' ? before : mode;
  const target = shownMode === 'tags' && repo && tagList[ti] ? `${repo}:${tagList[ti]}` : shownMode === 'type' ? submitted : undefined;
  const info = useAsync(() => (target ? session.inspectImage(target) : Promise.resolve(undefined)), [target, gen]);

  useEffect(() => {
    if (mode !== 'login' && (isAuth(repos) || isAuth(tags) || isAuth(info))) {
      setBefore(mode);
      setLoginField(user ? 1 : 0);
      setPass('');
      setMessage(session.registry().authenticated ? 'The registry refused these credentials.' : undefined);
      setMode('login');
    }
    // Each failure is a new Error: a second refusal (a wrong password) asks again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [errorOf(repos), errorOf(tags), errorOf(info)]);

  const choose = () => {
    if (info.status !== 'ok' || !info.value) return setMessage('wait for the image facts, or pick another');
    const i = info.value;
    w.dispatch({ type: 'image', image: { reference: i.reference, os: i.os === 'windows' ? 'windows' : 'linux', info: i } });
    w.go('layout');
  };
  const move = (input: string, key: Parameters<Binding['run']>[1]) => {
    const how = movement(input, key) ?? 'down';
    setMessage(undefined);
    if (mode === 'repos') setRi((i) => moveIndex(repoList.length, i, how));
    else setTi(moveIndex(tagList.length, ti, how));
  };
  const common: Binding[] = [
    { key: 'type', label: 'type ref', run: () => setMode('type') },
    { key: 'host', label: 'registry', run: () => setMode('host') },
    { key: 'credentials', label: 'login', run: () => (setBefore(mode), setLoginField(user ? 1 : 0), setMode('login')) },
    { key: 'refresh', label: 'refresh', hidden: true, run: () => setGen((g) => g + 1) },
  ];
  let keys: Binding[];
  if (confirm.asking) keys = confirm.bindings;
  else if (mode === 'repos') {
    keys = [
      { key: 'move', label: 'move', run: move },
      { key: 'page', label: 'page', hidden: true, run: move },
      {
        key: 'enter',
        label: 'open',
        run: () => {
          if (!repoList[ri]) return;
          setRepo(repoList[ri]);
          setTi(undefined);
          setMode('tags');
        },
      },
      ...common,
      { key: 'back', label: 'back', run: w.back },
      ...quitKeys(confirm, w),
    ];
  } else if (mode === 'tags') {
    keys = [
      { key: 'move', label: 'move', run: move },
      { key: 'page', label: 'page', hidden: true, run: move },
      { key: 'enter', label: 'choose', run: choose },
      { key: 'back', label: 'repos', run: () => setMode('repos') },
      ...common,
      ...quitKeys(confirm, w),
    ];
  } else if (mode === 'type') {
    keys = [
      {
        key: 'enter',
        label: 'look up / choose',
        run: () => {
          const ref = typed.trim();
          if (!ref) return setMessage('type a reference like registry:5000/os-images/debian:12');
          if (ref !== submitted) return setSubmitted(ref);
          if (info.status === 'error') return setGen((g) => g + 1);
          choose();
        },
      },
      { key: 'back', label: 'cancel', run: () => (setMode(host ? 'repos' : 'type'), host ? undefined : w.back()) },
      ...quitKeys(confirm, w, false),
    ];
  } else if (mode === 'host') {
    keys = [
      {
        key: 'enter',
        label: 'use this registry',
        run: () => {
          session.useRegistry(hostText.trim() || undefined);
          setRi(0);
          setRepo(undefined);
          setGen((g) => g + 1);
          setMode(hostText.trim() ? 'repos' : 'type');
        },
      },
      { key: 'back', label: 'cancel', run: () => setMode(host ? 'repos' : 'type') },
      ...quitKeys(confirm, w, false),
    ];
  } else {
    keys = [
      { key: 'tab', label: 'next field', run: () => setLoginField((f) => 1 - f) },
      { key: 'move', label: 'field', hidden: true, run: () => setLoginField((f) => 1 - f) },
      {
        key: 'enter',
        label: 'log in',
        run: () => {
          if (loginField === 0 && !pass) return setLoginField(1);
          session.setCredentials(user ? { username: user, password: pass } : undefined);
          setPass('');
          setMessage(undefined);
          setGen((g) => g + 1);
          setMode(before === 'login' ? 'repos' : before);
        },
      },
      { key: 'back', label: 'cancel', run: () => setMode(before === 'login' ? 'repos' : before) },
      ...quitKeys(confirm, w, false),
    ];
  }

  const listHeight = Math.max(3, Math.min(8, height - 13));
  const who = session.registry().user ? ` (as ${session.registry().user})` : '';
  const head = host ? `Registry ${host}${who}` : 'No registry set: type a full image reference, or press Esc then h';
  return (
    <Frame screen="image" keys={keys}>
      <Text bold>{fit(head, width, theme.glyphs.ellipsis)}</Text>
      {mode === 'repos' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.muted}>{repos.status === 'ok' ? `Repositories (${repoList.length})` : 'Repositories'}</Text>
          {repos.status === 'loading' ? <Text color={theme.colour.muted}>{`${spin} listing repositories`}</Text> : null}
          {repos.status === 'error' && !isAuth(repos) ? <Text color={theme.colour.bad}>{fit(repos.error.message, width, theme.glyphs.ellipsis)}</Text> : null}
          {repos.status === 'ok' ? <ListView items={repoList} index={ri} height={listHeight} row={(r) => fit(r, width - 2, theme.glyphs.ellipsis)} empty="The registry lists no repositories: press t to type a reference." /> : null}
        </Box>
      ) : null}
      {mode === 'tags' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.muted}>{fit(`Tags of ${repo}${tags.status === 'ok' ? ` (${tagList.length})` : ''}`, width, theme.glyphs.ellipsis)}</Text>
          {tags.status === 'loading' ? <Text color={theme.colour.muted}>{`${spin} listing tags`}</Text> : null}
          {tags.status === 'error' && !isAuth(tags) ? <Text color={theme.colour.bad}>{fit(tags.error.message, width, theme.glyphs.ellipsis)}</Text> : null}
          {tags.status === 'ok' ? <ListView items={tagList} index={ti} height={listHeight} row={(t) => fit(t, width - 2, theme.glyphs.ellipsis)} empty="No tags." /> : null}
        </Box>
      ) : null}
      {mode === 'type' || mode === 'host' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.muted}>{mode === 'type' ? 'Image reference (HOST[:PORT]/REPO:TAG, or REPO:TAG on this registry)' : "The controller's registry (HOST[:PORT])"}</Text>
          <Box>
            <Text>{theme.glyphs.pointer} </Text>
            {mode === 'type' ? <TextField value={typed} onChange={setTyped} focused width={width - 2} /> : <TextField value={hostText} onChange={setHostText} focused width={width - 2} />}
          </Box>
        </Box>
      ) : null}
      {mode === 'login' ? (
        <Box flexDirection="column" height={listHeight + 1}>
          <Text color={theme.colour.warn}>{fit(`${host ?? 'The registry'} wants credentials (HTTP 401).`, width, theme.glyphs.ellipsis)}</Text>
          <Box>
            <Text>{padEnd(`${loginField === 0 ? theme.glyphs.pointer : ' '} User`, 12)}</Text>
            <TextField value={user} onChange={setUser} focused={loginField === 0} width={width - 12} />
          </Box>
          <Box>
            <Text>{padEnd(`${loginField === 1 ? theme.glyphs.pointer : ' '} Password`, 12)}</Text>
            <TextField value={pass} onChange={setPass} focused={loginField === 1} width={width - 12} mask />
          </Box>
        </Box>
      ) : null}
      <Text color={theme.colour.muted}>{theme.glyphs.rule.repeat(width)}</Text>
      {mode !== 'login' && mode !== 'host' ? <Details info={info} lines={height - listHeight - 5} /> : null}
      <Box flexGrow={1} />
      <Prompt confirm={confirm} message={message} tone="bad" />
    </Frame>
  );
}
