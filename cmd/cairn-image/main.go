package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cairn-image:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cairn-image", flag.ContinueOnError)
	var (
		o       image.Options
		out     = fs.String("out", "bin/cairn-image.tar", "the archive to write")
		tag     = fs.String("tag", "cairn:dev", "the image's name in the archive")
		push    = fs.String("push", "", "also push the image to this reference (registry/repository:tag)")
		created = fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "file and image time, Unix seconds (default $SOURCE_DATE_EPOCH; the source's commit time)")
	)
	fs.StringVar(&o.Binary, "binary", "", "a static Linux build of cairn (CGO_ENABLED=0 GOOS=linux)")
	fs.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle the image trusts")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "the binary's architecture (GOARCH)")
	fs.StringVar(&o.Revision, "revision", "", "source revision label (git commit)")
	fs.StringVar(&o.Source, "source", "", "source repository label (URL)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if o.Binary == "" {
		return usageError{errors.New("--binary is required")}
	}
	if *created == "" {
		return usageError{errors.New("--created (or SOURCE_DATE_EPOCH) is required: the image's time, so that builds repeat")}
	}
	secs, err := strconv.ParseInt(*created, 10, 64)
	if err != nil || secs < 0 {
		return usageError{fmt.Errorf("--created %q: expected Unix seconds", *created)}
	}
	o.Created = time.Unix(secs, 0)
	if _, v, ok := strings.Cut(*tag, ":"); ok && !strings.Contains(v, "/") {
		o.Version = v
	}
	img, err := image.Build(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := image.WriteArchive(f, img, *tag); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s %s\n", *out, *tag, d)
	if *push != "" {
		ref, err := image.Push(ctx, img, *push)
		if err != nil {
			return err
		}
		fmt.Println("pushed", ref)
	}
	return nil
}
