package main

import "github.com/spf13/cobra"

// newDataCmd groups the data preparation commands.
func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Prepare datasets for training (decode, resize, encode, split, cache)",
	}
	prepare := &cobra.Command{
		Use:   "prepare",
		Short: "Prepare an image folder or a CSV table into a cached, compact dataset",
	}
	prepare.AddCommand(newPrepareImagesCmd(), newPrepareTableCmd())
	cmd.AddCommand(prepare, newDataSynthCmd())
	return cmd
}

// newDataSynthCmd groups the generators of synthetic stand-in datasets
// ('cairn data synth titanic', and the images' generator beside it).
func newDataSynthCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "synth", Short: "Generate synthetic stand-in datasets for offline demos and tests"}
	cmd.AddCommand(newSynthTitanicCmd(), newSynthFingersCmd())
	return cmd
}
