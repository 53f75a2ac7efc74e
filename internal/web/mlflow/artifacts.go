package mlflow

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// artifactRoutes mounts the mlflow-artifacts proxy under prefix.
func (h *Handler) artifactRoutes(mux *http.ServeMux, prefix string) {
	mux.Handle("GET "+prefix+"artifacts", handle(h.listProxyArtifacts))
	mux.HandleFunc("GET "+prefix+"artifacts/{path...}", h.downloadArtifact)
	mux.Handle("PUT "+prefix+"artifacts/{path...}", handle(h.uploadArtifact))
	mux.Handle("DELETE "+prefix+"artifacts/{path...}", handle(h.deleteArtifact))
	mux.Handle("POST "+prefix+"mpu/create/{path...}", handle(h.createMultipart))
	mux.Handle("PUT "+prefix+"mpu/part/{path...}", http.HandlerFunc(h.uploadPart))
	mux.Handle("POST "+prefix+"mpu/complete/{path...}", handle(h.completeMultipart))
	mux.Handle("POST "+prefix+"mpu/abort/{path...}", handle(h.abortMultipart))
}

type wireFileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size,omitempty"`
}

func toWireFiles(infos []artifact.Info, rel func(string) string) []wireFileInfo {
	out := make([]wireFileInfo, 0, len(infos))
	for _, f := range infos {
		w := wireFileInfo{Path: rel(f.Path), IsDir: f.IsDir}
		if !f.IsDir {
			size := f.Size
			w.FileSize = &size
		}
		out = append(out, w)
	}
	return out
}

func (h *Handler) listProxyArtifacts(r *http.Request) (any, error) {
	var req struct {
		Path string `json:"path"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	p, err := artifact.ValidatePath(req.Path)
	if err != nil {
		return nil, err
	}
	infos, err := h.artifacts.List(r.Context(), p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Files []wireFileInfo `json:"files,omitempty"`
	}{}
	if len(infos) > 0 {
		out.Files = toWireFiles(infos, path.Base)
	}
	return out, nil
}

func (h *Handler) downloadArtifact(w http.ResponseWriter, r *http.Request) {
	p, err := artifact.ValidatePath(r.PathValue("path"))
	if err == nil && p == "" {
		err = errs.Invalidf("artifact path is empty: expected a file path such as 1/<run>/artifacts/model.pkl")
	}
	if err != nil {
		api.Error(w, r, err)
		return
	}
	h.sendFile(w, r, h.artifacts, p)
}

func (h *Handler) uploadBody(r *http.Request) io.Reader {
	if h.opts.MaxArtifactBytes > 0 {
		return http.MaxBytesReader(nil, r.Body, h.opts.MaxArtifactBytes)
	}
	return r.Body
}

func (h *Handler) uploadArtifact(r *http.Request) (any, error) {
	p, err := artifact.ValidatePath(r.PathValue("path"))
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, errs.Invalidf("artifact path is empty: expected a file path")
	}
	if err := h.artifacts.Put(r.Context(), p, h.uploadBody(r)); err != nil {
		return nil, tooLarge(err, h.opts.MaxArtifactBytes)
	}
	return nil, nil
}

func tooLarge(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &errs.Error{Kind: errs.TooLarge, Message: fmt.Sprintf("artifact exceeds the server's limit of %d bytes", limit), Err: err}
	}
	return err
}

func (h *Handler) deleteArtifact(r *http.Request) (any, error) {
	p, err := artifact.ValidatePath(r.PathValue("path"))
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, errs.Invalidf("refusing to delete the artifact root: give a path")
	}
	return nil, h.artifacts.Delete(r.Context(), p)
}

func (h *Handler) multipart() (artifact.Multipart, error) {
	mp, ok := h.artifacts.(artifact.Multipart)
	if !ok {
		return nil, errs.Invalidf("multipart upload is not supported for the current artifact repository")
	}
	return mp, nil
}

// partSignature signs a part-upload URL so it works without credentials,
// like a presigned S3 URL.
func (h *Handler) partSignature(p, uploadID string, part int) string {
	mac := hmac.New(sha256.New, h.opts.URLSigningKey)
	fmt.Fprintf(mac, "%s\x00%s\x00%d", p, uploadID, part)
	return hex.EncodeToString(mac.Sum(nil))
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fp := r.Header.Get("X-Forwarded-Proto"); fp == "http" || fp == "https" {
		scheme = fp
	}
	return scheme + "://" + r.Host
}

func (h *Handler) createMultipart(r *http.Request) (any, error) {
	var req struct {
		Path     string `json:"path"`
		NumParts Int64  `json:"num_parts"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	p, err := artifact.ValidatePath(path.Join(r.PathValue("path"), req.Path))
	if err != nil {
		return nil, err
	}
	if req.NumParts < 1 || req.NumParts > 10000 {
		return nil, errs.Invalidf("invalid value %d for parameter 'num_parts': expected 1 to 10000", req.NumParts)
	}
	mp, err := h.multipart()
	if err != nil {
		return nil, err
	}
	id, err := mp.CreateMultipart(r.Context(), p)
	if err != nil {
		return nil, err
	}
	type credential struct {
		PartNumber int               `json:"part_number"`
		URL        string            `json:"url"`
		Headers    map[string]string `json:"headers,omitempty"`
	}
	prefix := strings.TrimSuffix(r.URL.Path, "mpu/create/"+r.PathValue("path"))
	creds := make([]credential, req.NumParts)
	for i := range creds {
		n := i + 1
		q := url.Values{"upload_id": {id}, "part_number": {strconv.Itoa(n)}, "signature": {h.partSignature(p, id, n)}}
		creds[i] = credential{PartNumber: n, URL: baseURL(r) + prefix + "mpu/part/" + escapePath(p) + "?" + q.Encode()}
	}
	return map[string]any{"upload_id": id, "credentials": creds}, nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// uploadPart receives one part at a signed URL and answers with its ETag.
func (h *Handler) uploadPart(w http.ResponseWriter, r *http.Request) {
	p, err := artifact.ValidatePath(r.PathValue("path"))
	if err != nil {
		api.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	id := q.Get("upload_id")
	n, err := strconv.Atoi(q.Get("part_number"))
	if err != nil || n < 1 {
		api.Error(w, r, errs.Invalidf("invalid value '%s' for parameter 'part_number': expected a positive integer", q.Get("part_number")))
		return
	}
	if !hmac.Equal([]byte(q.Get("signature")), []byte(h.partSignature(p, id, n))) {
		api.Error(w, r, errs.E(errs.PermissionDenied, "invalid or missing signature on the part upload URL"))
		return
	}
	mp, err := h.multipart()
	if err != nil {
		api.Error(w, r, err)
		return
	}
	etag, err := mp.UploadPart(r.Context(), p, id, n, h.uploadBody(r))
	if err != nil {
		api.Error(w, r, tooLarge(err, h.opts.MaxArtifactBytes))
		return
	}
	w.Header().Set("ETag", etag)
	api.JSON(w, http.StatusOK, nil)
}

// multipartUpload checks the path and upload ID that complete and abort
// both take, and returns the store's multipart interface.
func (h *Handler) multipartUpload(r *http.Request, rel, uploadID string) (artifact.Multipart, string, error) {
	p, err := artifact.ValidatePath(path.Join(r.PathValue("path"), rel))
	if err != nil {
		return nil, "", err
	}
	if err := required("upload_id", uploadID); err != nil {
		return nil, "", err
	}
	mp, err := h.multipart()
	return mp, p, err
}

func (h *Handler) completeMultipart(r *http.Request) (any, error) {
	var req struct {
		Path     string `json:"path"`
		UploadID string `json:"upload_id"`
		Parts    []struct {
			PartNumber Int64  `json:"part_number"`
			ETag       string `json:"etag"`
		} `json:"parts"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	mp, p, err := h.multipartUpload(r, req.Path, req.UploadID)
	if err != nil {
		return nil, err
	}
	parts := make([]artifact.Part, len(req.Parts))
	for i, x := range req.Parts {
		parts[i] = artifact.Part{Number: int(x.PartNumber), ETag: x.ETag}
	}
	return nil, mp.CompleteMultipart(r.Context(), p, req.UploadID, parts)
}

func (h *Handler) abortMultipart(r *http.Request) (any, error) {
	var req struct {
		Path     string `json:"path"`
		UploadID string `json:"upload_id"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	mp, p, err := h.multipartUpload(r, req.Path, req.UploadID)
	if err != nil {
		return nil, err
	}
	return nil, mp.AbortMultipart(r.Context(), p, req.UploadID)
}

func (h *Handler) listRunArtifacts(r *http.Request) (any, error) {
	var req struct {
		RunID     string `json:"run_id"`
		RunUUID   string `json:"run_uuid"`
		Path      string `json:"path"`
		PageToken string `json:"page_token"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	store, dir, err := h.runArtifactPath(r, id, req.Path)
	if err != nil {
		return nil, err
	}
	run, err := h.tracking.Store().FindRunByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	_, root, err := h.storeFor(run.Info.ArtifactURI)
	if err != nil {
		return nil, err
	}
	infos, err := store.List(r.Context(), dir)
	if err != nil {
		return nil, err
	}
	out := struct {
		RootURI string         `json:"root_uri"`
		Files   []wireFileInfo `json:"files,omitempty"`
	}{RootURI: run.Info.ArtifactURI}
	if len(infos) > 0 {
		out.Files = toWireFiles(infos, func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, root), "/") })
	}
	return out, nil
}

// storeFor returns the store holding an artifact URI and the URI's path in
// it. Every use goes through here, as rows stored before locations were
// checked at creation may name anything. Errors: Invalid (not a clean
// location), PermissionDenied (outside the roots the server serves).
func (h *Handler) storeFor(uri string) (artifact.Store, string, error) {
	return h.opts.Roots.Resolve(uri)
}

// checkLocation checks that the location a client gives in param is one
// the server serves, in the words of an invalid parameter; a fragment or
// params in MLflow's words, which scanners and clients look for.
func (h *Handler) checkLocation(param, uri string) error {
	if strings.ContainsAny(uri, "#;") {
		return errs.Invalidf("'%s' URL can't include fragments or params.", param)
	}
	if _, _, err := h.storeFor(uri); err != nil {
		return &errs.Error{Kind: errs.Invalid, Err: err,
			Message: fmt.Sprintf("Invalid value '%s' for parameter '%s': %s", uri, param, errs.MessageOf(err))}
	}
	return nil
}
