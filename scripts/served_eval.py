"""Scores the served champions through their HTTP endpoints.

Posts every fingers test image to POST /serve/fingers/ and every Titanic
passenger of train.csv to POST /serve/titanic/predict on a server that
deploys them (e.g. `cairn demo --real ../shared/data`), and compares the
answers with the labels in the file names and the CSV.

    python3 scripts/served_eval.py http://127.0.0.1:5000 [../shared/data]
"""
import base64, csv, glob, json, os, re, sys, time, urllib.request

base = sys.argv[1].rstrip("/")
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
files = sorted(glob.glob(os.path.join(data, "fingers", "test", "*.png")))
ok = 0; t0 = time.time()
for f in files:
    n = int(re.search(r"_([0-5])[LR]\.png$", f).group(1))
    with open(f, "rb") as fh:
        out = post("/serve/fingers/", {"image": base64.b64encode(fh.read()).decode()})
    ok += out["fingers"] == n
print(f"fingers: {ok}/{len(files)} = {ok/len(files):.4f} correct through POST /serve/fingers/ ({time.time()-t0:.1f}s, version {out['model_version']})")
rows = list(csv.DictReader(open(os.path.join(data, "titanic", "train.csv"))))
ok = 0
num = {"PassengerId", "Pclass", "Age", "SibSp", "Parch", "Fare"}
for r in rows:
    rec = {k: (None if r[k] == "" else (float(r[k]) if k in num else r[k])) for k in ["PassengerId", "Name", "Pclass", "Age", "SibSp", "Parch", "Fare", "Sex", "Embarked", "Cabin", "Ticket"]}
    out = post("/serve/titanic/predict", rec)
    ok += out["Survived"] == int(r["Survived"])
print(f"titanic: {ok}/{len(rows)} = {ok/len(rows):.4f} correct through POST /serve/titanic/predict (all of train.csv, training rows included)")
