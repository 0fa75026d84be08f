package testutil

import (
	"fmt"
	"os"
	"regexp"
)

// DocBlock is one fenced code block of a markdown page.
type DocBlock struct {
	// Lang is the word after the opening fence ("sh", "yaml"; "" for none).
	Lang string
	// Text is the block's content, every line ending in a newline.
	Text string
}

var fence = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")

// DocBlocks returns the fenced code blocks of a markdown file, in order.
// The tests that run a page's commands take them from here, so that a page
// cannot show a command no test runs.
func DocBlocks(file string) ([]DocBlock, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the page: %w", err)
	}
	var blocks []DocBlock
	for _, m := range fence.FindAllStringSubmatch(string(data), -1) {
		blocks = append(blocks, DocBlock{Lang: m[1], Text: m[2]})
	}
	return blocks, nil
}

// DocBlocksOf returns the contents of the blocks of one language.
func DocBlocksOf(file, lang string) ([]string, error) {
	blocks, err := DocBlocks(file)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range blocks {
		if b.Lang == lang {
			out = append(out, b.Text)
		}
	}
	return out, nil
}
