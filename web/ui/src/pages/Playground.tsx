// The playground: try a deployed model. Image models take an upload or a
// camera photo and show the predicted class with its probabilities; table
// models take a form of their fields and show the probability.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, deployments, serve, serveURL, type Deployment, type DeploymentInput, type ImagePrediction, type TablePrediction } from '../api';
import { Alias, Crumbs, Empty, ErrorBox, Loading, Status } from '../components/ui';
import { fmtAgo, fmtPercent } from '../format';
import { useAsync, usePoll, useTitle } from '../hooks';
import { Link, path } from '../router';

const notServing = (e: unknown) => e instanceof ApiError && e.status === 404 && e.code === 'ENDPOINT_NOT_FOUND';

function NoServing() {
  return (
    <Empty title="This server does not serve models">
      <p>The deployments API is not available on this server. A cairn server with the model server serves registered models under /serve/NAME/.</p>
    </Empty>
  );
}

function NoDeployments() {
  return (
    <Empty title="No models are deployed yet">
      <p>Deploy a registered model by its alias, and it shows up here to try:</p>
      <pre class="block">{`curl -X POST ${location.origin}/api/2.0/cairn/deployments/create \\
  -d '{"name": "fingers", "model_uri": "models:/fingers@champion"}'`}</pre>
      <p>
        No model registered yet? See <Link href="/models">Models</Link>.
      </p>
    </Empty>
  );
}

const kindLabel = (d: Deployment) => (d.kind === 'image' ? 'image model' : d.kind === 'table' ? 'table model' : d.kind ?? '');
const aliasOf = (uri: string) => uri.match(/@([^/]+)$/)?.[1];

export function Playground() {
  useTitle('Playground');
  const list = useAsync(() => deployments.list(), []);
  const ds = list.data?.deployments ?? [];
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <h1>Playground</h1>
          <div class="sub">Try a deployed model: upload an image or take a photo, or fill in a passenger.</div>
        </div>
      </div>
      {list.error ? (
        notServing(list.error) ? (
          <div class="panel">
            <NoServing />
          </div>
        ) : (
          <ErrorBox error={list.error} what="Could not list deployments" />
        )
      ) : !list.data ? (
        <Loading />
      ) : ds.length === 0 ? (
        <div class="panel">
          <NoDeployments />
        </div>
      ) : (
        <div class="cards" data-testid="deployments">
          {ds.map((d) => (
            <Link key={d.name} href={path('playground', d.name)} class="panel card">
              <div class="title">
                {d.name} <Status value={d.state} />
              </div>
              <div class="mono small muted">{d.model_uri}</div>
              <div class="small">
                {d.model_version ? `version ${d.model_version}` : 'no version loaded'} · {kindLabel(d)}
              </div>
              {d.last_error && <div class="small" style={{ color: 'var(--danger)' }}>{d.last_error}</div>}
            </Link>
          ))}
        </div>
      )}
    </>
  );
}

export function DeploymentPage({ name }: { name: string }) {
  useTitle(`${name} playground`);
  const [d, setD] = useState<Deployment | null>(null);
  const [error, setError] = useState<Error | null>(null);
  usePoll(
    async (signal) => {
      try {
        const r = await deployments.get(name);
        if (signal.aborted) return false;
        setD(r.deployment);
        setError(null);
        return r.deployment.state === 'LOADING';
      } catch (e) {
        setError(e as Error);
        return false;
      }
    },
    2000,
    [name],
  );
  if (error && !d) {
    return notServing(error) ? (
      <div class="panel">
        <NoServing />
      </div>
    ) : (
      <ErrorBox error={error} what={`Could not load deployment ${name}`} />
    );
  }
  if (!d) return <Loading />;
  const alias = aliasOf(d.model_uri);
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <Crumbs items={[['Playground', '/playground']]} />
          <h1 class="row">
            {d.name} <Status value={d.state} />
          </h1>
          <div class="sub">
            <span class="mono">{d.model_uri}</span>
            {d.model_name && d.model_version && (
              <span>
                serving <Link href={path('models', d.model_name)}>{d.model_name}</Link> version {d.model_version} {alias && <Alias name={alias} />}
              </span>
            )}
            {d.updated_at && <span>updated {fmtAgo(typeof d.updated_at === 'number' ? d.updated_at : Date.parse(d.updated_at))}</span>}
          </div>
        </div>
      </div>
      {d.last_error && (
        <div class="error-box">
          <strong>{d.state === 'FAILED' ? 'The model did not load:' : 'The latest version did not load (the previous one keeps serving):'}</strong>
          {d.last_error}
        </div>
      )}
      {d.state === 'LOADING' ? (
        <div class="panel">
          <Loading what="The model is loading; this page updates when it is ready" />
        </div>
      ) : d.state === 'FAILED' ? (
        <div class="panel">
          <Empty title="Nothing is served">
            <p>Fix the model (or move the alias to a version that loads) and the deployment picks it up.</p>
          </Empty>
        </div>
      ) : d.kind === 'table' ? (
        <TablePlay d={d} />
      ) : (
        <ImagePlay d={d} />
      )}
      <details class="panel" style={{ marginTop: '16px' }}>
        <summary class="panel-head" style={{ cursor: 'pointer' }}>
          <h2 style={{ display: 'inline' }}>Call it yourself</h2>
        </summary>
        <pre class="block" style={{ border: 'none' }}>
          {d.kind === 'table'
            ? `curl -X POST ${location.origin}${serveURL(d)}predict \\
  -H 'Content-Type: application/json' \\
  -d '{"Name": "Kelly, Mr. James", "Pclass": 3, "Sex": "male", "Age": 34.5, "SibSp": 0, "Parch": 0, "Fare": 7.83, "Embarked": "Q"}'`
            : `curl -X POST ${location.origin}${serveURL(d)} \\
  -H 'Content-Type: application/json' \\
  -d "{\\"image\\": \\"$(base64 -w0 hand.png)\\"}"`}
        </pre>
      </details>
    </>
  );
}

// ---------------------------------------------------------------- images

/** readImage reads a file as a data URL; anything but PNG or JPEG, or a very large photo, is redrawn as PNG/JPEG first. */
export async function readImage(file: File): Promise<string> {
  if (!file.type.startsWith('image/')) throw new Error(`${file.name} is not an image (${file.type || 'unknown type'}): choose a PNG or JPEG`);
  const url = await new Promise<string>((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(new Error(`could not read ${file.name}`));
    r.readAsDataURL(file);
  });
  if ((file.type === 'image/png' || file.type === 'image/jpeg') && file.size < 4 << 20) return url;
  return redraw(url, 1024);
}

/** redraw decodes an image and encodes it again at most max pixels wide (JPEG for photos). */
function redraw(src: string, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const scale = Math.min(1, max / Math.max(img.naturalWidth, img.naturalHeight));
      const c = document.createElement('canvas');
      c.width = Math.max(1, Math.round(img.naturalWidth * scale));
      c.height = Math.max(1, Math.round(img.naturalHeight * scale));
      c.getContext('2d')!.drawImage(img, 0, 0, c.width, c.height);
      resolve(c.toDataURL('image/jpeg', 0.92));
    };
    img.onerror = () => reject(new Error('the browser could not decode this image'));
    img.src = src;
  });
}

/** cameraError explains why the camera did not start. */
export function cameraError(e: unknown): string {
  const name = (e as Error)?.name;
  if (!window.isSecureContext) return 'The camera needs a secure page: open Cairn over https, or on localhost / 127.0.0.1.';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera permission was denied. Allow the camera for this site in the browser (the icon in the address bar), then try again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found on this device. Upload a photo instead.';
    case 'NotReadableError':
      return 'The camera is in use by another application. Close it and try again.';
  }
  return `The camera could not start: ${(e as Error)?.message || String(e)}`;
}

/** sortedProbs lists class probabilities in the model's class order (else by class name). */
export function sortedProbs(p: ImagePrediction, classes?: string[]): [string, number][] {
  const keys = classes?.length ? classes.filter((c) => c in p.probabilities) : Object.keys(p.probabilities).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const rest = Object.keys(p.probabilities).filter((k) => !keys.includes(k));
  return [...keys, ...rest].map((k) => [k, p.probabilities[k]]);
}

function ImagePlay({ d }: { d: Deployment }) {
  const [image, setImage] = useState<string | null>(null);
  const [result, setResult] = useState<ImagePrediction | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  const [camera, setCamera] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const [broken, setBroken] = useState(false);
  useEffect(() => setBroken(false), [image]);

  const predict = async (img: string) => {
    setImage(img);
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await serve.image(d, img));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const takeFile = async (f: File | undefined | null) => {
    if (!f) return;
    try {
      await predict(await readImage(f));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    const paste = (e: ClipboardEvent) => {
      const f = [...(e.clipboardData?.files ?? [])].find((x) => x.type.startsWith('image/'));
      if (f) takeFile(f);
    };
    window.addEventListener('paste', paste);
    return () => window.removeEventListener('paste', paste);
  });

  return (
    <div class="grid two">
      <div class="panel">
        <div class="panel-head">
          <h2>Image</h2>
          <button
            class="small"
            onClick={() => {
              // The live feed replaces the last photo: its answer goes with it.
              if (!camera) setResult(null);
              setCamera(!camera);
            }}
            data-testid="camera-toggle"
          >
            {camera ? 'Close the camera' : 'Take a photo'}
          </button>
        </div>
        <div class="panel-body">
          {camera ? (
            <Camera
              onPhoto={(img) => {
                setCamera(false);
                predict(img);
              }}
              onError={(m) => {
                setCamera(false);
                setError(m);
              }}
            />
          ) : (
            <div
              class={'drop' + (over ? ' over' : '')}
              role="button"
              tabIndex={0}
              data-testid="drop"
              onClick={() => fileInput.current?.click()}
              onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && fileInput.current?.click()}
              onDragOver={(e) => {
                e.preventDefault();
                setOver(true);
              }}
              onDragLeave={() => setOver(false)}
              onDrop={(e) => {
                e.preventDefault();
                setOver(false);
                takeFile(e.dataTransfer?.files?.[0]);
              }}
            >
              {image && !broken && <img src={image} alt="The image sent to the model" data-testid="input-image" onError={() => setBroken(true)} />}
              {image && broken && <div class="faint small">(this file does not display as an image)</div>}
              <div>
                <strong>{image ? 'Choose another image' : 'Drop an image here, or click to choose one'}</strong>
              </div>
              <div class="small">PNG or JPEG; paste works too. {d.input_shape?.length ? `The model sees it as ${d.input_shape.join('×')}.` : ''}</div>
              <input
                ref={fileInput}
                type="file"
                accept="image/png,image/jpeg,image/*"
                style={{ display: 'none' }}
                data-testid="file"
                onChange={(e) => {
                  takeFile(e.currentTarget.files?.[0]);
                  e.currentTarget.value = '';
                }}
              />
              {/* A phone opens its camera app straight away for an input with capture. */}
              {touchScreen() && (
                <label class="button small" onClick={(e) => e.stopPropagation()} data-testid="capture-label">
                  Take a photo with the phone's camera
                  <input
                    type="file"
                    accept="image/*"
                    capture="environment"
                    style={{ display: 'none' }}
                    data-testid="capture"
                    onChange={(e) => {
                      takeFile(e.currentTarget.files?.[0]);
                      e.currentTarget.value = '';
                    }}
                  />
                </label>
              )}
            </div>
          )}
        </div>
      </div>
      <PredictionPanel version={result?.model_version} error={error} busy={busy}
        empty="The predicted class and the probability of each class show here.">
        {result && <ImageResult r={result} classes={d.classes} />}
      </PredictionPanel>
    </div>
  );
}

/** PredictionPanel shows an answer (children), or what is going on instead. */
function PredictionPanel({ version, error, busy, empty, children }: {
  version?: string;
  error: string | null;
  busy: boolean;
  empty: string;
  children?: ComponentChildren;
}) {
  return (
    <div class="panel">
      <div class="panel-head">
        <h2>Prediction</h2>
        {version && <span class="muted small">version {version}</span>}
      </div>
      <div class="panel-body" data-testid="prediction">
        {error && (
          <div class="error-box" role="alert">
            {error}
          </div>
        )}
        {busy ? <Loading what="Asking the model" /> : children ? children : !error && <p class="muted">{empty}</p>}
      </div>
    </div>
  );
}

const handName: Record<string, string> = { L: 'left hand', R: 'right hand' };

function ImageResult({ r, classes }: { r: ImagePrediction; classes?: string[] }) {
  // A count-and-hand model ("3L", "3R"): bars for the counts, the hand apart.
  const counts = r.fingers_probabilities;
  const probs = counts ? sortedProbs({ ...r, probabilities: counts }) : sortedProbs(r, classes);
  const top = counts && r.fingers !== undefined ? String(r.fingers) : r.class;
  const confidence = counts && r.fingers !== undefined ? counts[String(r.fingers)] ?? r.confidence : r.confidence;
  return (
    <>
      <div class="prediction">
        <div class="big" data-testid="predicted">
          {r.fingers !== undefined ? r.fingers : r.class}
        </div>
        <div class="label">
          {r.fingers !== undefined ? (r.fingers === 1 ? 'finger' : 'fingers') : 'class'} · {fmtPercent(confidence)} confident
        </div>
        {confidence < lowConfidence && (
          <div class="hint" data-testid="low-confidence">
            Low confidence: the model is unsure; try a clearer photo, one hand against a plain background.
          </div>
        )}
        {r.hand && (
          <div class="label" data-testid="hand">
            {handName[r.hand] ?? r.hand}
            {r.hand_probabilities?.[r.hand] !== undefined && ` · ${fmtPercent(r.hand_probabilities[r.hand])}`}
          </div>
        )}
      </div>
      <div class="probs" data-testid="probabilities">
        {probs.map(([k, p]) => (
          <div key={k} class={'prob' + (k === top ? ' top' : '')}>
            <span class="mono">{k}</span>
            <div class="track">
              <div class="fill" style={{ width: `${Math.max(0, Math.min(1, p)) * 100}%` }} />
            </div>
            <span class="v">{fmtPercent(p)}</span>
          </div>
        ))}
      </div>
    </>
  );
}

/** touchScreen tells a phone or tablet (a coarse pointer) from a desktop. */
export const touchScreen = () => typeof window.matchMedia === 'function' && window.matchMedia('(pointer: coarse)').matches;

function Camera({ onPhoto, onError }: { onPhoto: (img: string) => void; onError: (msg: string) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [ready, setReady] = useState(false);
  // On a phone the back camera is the one pointed at a hand; a laptop has the front one.
  const [facing, setFacing] = useState<'user' | 'environment'>(() => (touchScreen() ? 'environment' : 'user'));
  useEffect(() => {
    let stream: MediaStream | null = null;
    let stopped = false;
    setReady(false);
    if (!navigator.mediaDevices?.getUserMedia) {
      onError(cameraError(new Error('this browser has no camera access (navigator.mediaDevices)')));
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: facing, width: { ideal: 640 }, height: { ideal: 480 } }, audio: false }).then(
      (s) => {
        if (stopped) {
          s.getTracks().forEach((t) => t.stop());
          return;
        }
        stream = s;
        if (video.current) {
          video.current.srcObject = s;
          video.current.play().then(
            () => setReady(true),
            () => setReady(true),
          );
        }
      },
      (e) => !stopped && onError(cameraError(e)),
    );
    return () => {
      stopped = true;
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [facing]);
  const snap = () => {
    const v = video.current;
    if (!v || !v.videoWidth) return;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext('2d')!.drawImage(v, 0, 0);
    onPhoto(c.toDataURL('image/png'));
  };
  return (
    <div class="drop" style={{ cursor: 'default' }}>
      <video ref={video} autoplay playsInline muted data-testid="video" />
      <div class="row">
        <button class="primary" onClick={snap} disabled={!ready} data-testid="snap">
          {ready ? 'Take the photo' : 'Starting the camera…'}
        </button>
        <button class="ghost" onClick={() => setFacing(facing === 'user' ? 'environment' : 'user')} data-testid="switch-camera" data-facing={facing}>
          {facing === 'user' ? 'Use the back camera' : 'Use the front camera'}
        </button>
      </div>
    </div>
  );
}

// ---------------------------------------------------------------- tables

/** titanicFields are the passenger fields when the deployment does not list its inputs. */
export const titanicFields: DeploymentInput[] = [
  { name: 'Name', type: 'text', optional: true },
  { name: 'Pclass', type: 'number' },
  { name: 'Sex', type: 'category' },
  { name: 'Age', type: 'number', optional: true },
  { name: 'SibSp', type: 'number' },
  { name: 'Parch', type: 'number' },
  { name: 'Fare', type: 'number', optional: true },
  { name: 'Embarked', type: 'category', optional: true },
];

/** titanicChoices are the Titanic's categories when the deployment does not list them. */
const titanicChoices: Record<string, string[]> = { Sex: ['female', 'male'], Embarked: ['C', 'Q', 'S'], Pclass: ['1', '2', '3'] };

/** choicesOf returns the values a field takes: the model's own, else the Titanic's for its fallback fields. */
export function choicesOf(f: DeploymentInput, fallback: boolean): string[] | undefined {
  if (f.choices?.length) return f.choices;
  return fallback ? titanicChoices[f.name] : undefined;
}

/** lowConfidence is below which top probability a prediction is flagged as unsure. */
export const lowConfidence = 0.65;

/** rangeHint says when a number lies outside what the model saw in training ('' when inside or unknown). */
export function rangeHint(f: DeploymentInput, v: string): string {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || f.min === undefined || f.max === undefined) return '';
  return n < f.min || n > f.max ? `outside the training range ${f.min}–${f.max}: the answer is a guess` : '';
}

export const examples: { label: string; values: Record<string, string> }[] = [
  { label: 'Mr. James Kelly, 3rd class', values: { Name: 'Kelly, Mr. James', Pclass: '3', Sex: 'male', Age: '34.5', SibSp: '0', Parch: '0', Fare: '7.8292', Embarked: 'Q' } },
  { label: 'Mrs. John Cumings, 1st class', values: { Name: 'Cumings, Mrs. John Bradley (Florence Briggs Thayer)', Pclass: '1', Sex: 'female', Age: '38', SibSp: '1', Parch: '0', Fare: '71.2833', Embarked: 'C' } },
  { label: 'Master Gösta Palsson, child', values: { Name: 'Palsson, Master. Gosta Leonard', Pclass: '3', Sex: 'male', Age: '2', SibSp: '3', Parch: '1', Fare: '21.075', Embarked: 'S' } },
];

/** buildRecord turns the form into one JSON record; empty optional fields are left out. */
export function buildRecord(
  fields: DeploymentInput[],
  values: Record<string, string>,
  choices: (f: DeploymentInput) => string[] | undefined = (f) => f.choices,
): { record?: Record<string, unknown>; errors: Record<string, string> } {
  const record: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const v = (values[f.name] ?? '').trim();
    if (v === '') {
      if (!f.optional) errors[f.name] = 'required';
      continue;
    }
    const known = choices(f);
    if (known?.length && !known.includes(v)) {
      errors[f.name] = `expected one of ${known.join(', ')}, got "${v}"`;
      continue;
    }
    if (f.type === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) errors[f.name] = `expected a number, got "${v}"`;
      else record[f.name] = n;
    } else {
      record[f.name] = v;
    }
  }
  return Object.keys(errors).length ? { errors } : { record, errors };
}

/** outcome words a binary prediction: survived / did not survive for the Titanic. */
export const outcome = (label: string, yes: boolean) =>
  label === 'Survived' ? (yes ? 'survived' : 'did not survive') : `${label} = ${yes ? 1 : 0}`;

function TablePlay({ d }: { d: Deployment & { info?: { label?: string } } }) {
  const fallback = !d.inputs?.length;
  const fields = fallback ? titanicFields : d.inputs!;
  const choices = (f: DeploymentInput) => choicesOf(f, fallback);
  const label = d.info?.label || 'Survived';
  const [values, setValues] = useState<Record<string, string>>(examples[0].values);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<TablePrediction | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e?: Event) => {
    e?.preventDefault();
    const b = buildRecord(fields, values, choices);
    setErrors(b.errors);
    if (!b.record) {
      setResult(null); // an answer for other values must not stand next to the errors
      setError(null);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setResult(await serve.table(d, b.record));
    } catch (err) {
      setResult(null);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const p = result ? Number(result.probability) : NaN;
  const predicted = result ? Number(result[label] ?? (p >= 0.5 ? 1 : 0)) : NaN;
  return (
    <div class="grid two">
      <div class="panel">
        <div class="panel-head">
          <h2>Passenger</h2>
          <select
            aria-label="Fill in an example"
            onChange={(e) => {
              const ex = examples[Number(e.currentTarget.value)];
              if (ex) setValues(ex.values);
              e.currentTarget.value = '';
            }}
          >
            <option value="">Fill in an example…</option>
            {examples.map((x, i) => (
              <option key={i} value={i}>
                {x.label}
              </option>
            ))}
          </select>
        </div>
        <form class="panel-body" onSubmit={submit} data-testid="table-form" noValidate>
          <div class="form-grid">
            {fields.map((f) => {
              const known = choices(f);
              const v = values[f.name] ?? '';
              const hint = rangeHint(f, v);
              return (
                <label class="field" key={f.name}>
                  <span>
                    {f.name} {f.optional && <span class="faint small">optional</span>}
                  </span>
                  {known?.length ? (
                    <select
                      name={f.name}
                      value={known.includes(v) ? v : ''}
                      aria-invalid={!!errors[f.name]}
                      onChange={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}
                    >
                      <option value="">{f.optional ? 'unknown' : 'choose…'}</option>
                      {known.map((c) => (
                        <option key={c} value={c}>
                          {c}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <input
                      name={f.name}
                      value={v}
                      inputMode={f.type === 'number' ? 'decimal' : undefined}
                      placeholder={f.type === 'date' ? 'YYYY-MM-DD' : f.type === 'number' && f.min !== undefined ? `${f.min}–${f.max}` : undefined}
                      aria-invalid={!!errors[f.name]}
                      onInput={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}
                    />
                  )}
                  {hint && !errors[f.name] && (
                    <span class="hint" data-testid={`range-${f.name}`}>
                      {hint}
                    </span>
                  )}
                  {errors[f.name] && (
                    <span class="hint" style={{ color: 'var(--danger)' }} role="alert">
                      {f.name}: {errors[f.name]}
                    </span>
                  )}
                </label>
              );
            })}
          </div>
          <div class="row" style={{ marginTop: '14px' }}>
            <button class="primary" type="submit" disabled={busy}>
              {busy ? 'Predicting…' : 'Predict'}
            </button>
          </div>
        </form>
      </div>
      <PredictionPanel version={result?.model_version} error={error} busy={busy} empty="Fill in the passenger and press Predict.">
        {result && Number.isFinite(p) && (
          <>
            <div class="prediction">
              <div class="big" data-testid="probability">
                {fmtPercent(p)}
              </div>
              <div class="label">
                probability of {label} = 1 · predicted: <strong>{outcome(label, predicted === 1)}</strong>
              </div>
              {Math.max(p, 1 - p) < lowConfidence && (
                <div class="hint" data-testid="low-confidence">
                  Low confidence: the model is unsure about this one.
                </div>
              )}
            </div>
            <div class="meter" aria-hidden="true">
              <div style={{ width: `${p * 100}%`, background: p >= 0.5 ? 'var(--ok)' : 'var(--danger)' }} />
            </div>
          </>
        )}
      </PredictionPanel>
    </div>
  );
}
