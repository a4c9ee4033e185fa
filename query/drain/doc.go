// Package drain finds the patterns of log lines with Drain (He, Zhu, Zheng
// and Lyu, "Drain: An Online Log Parsing Approach with Fixed Depth Tree",
// ICWS 2017), as Loki's /loki/api/v1/patterns does.
//
// Drain keeps log groups (clusters), each with a template: the line's
// tokens, a variable position being the parameter <_>. A line goes down a
// tree of fixed depth: the first layer by its number of tokens, then one
// layer each for its first Depth-2 tokens (a token with a digit, or one
// past MaxChildren distinct tokens, goes down the <_> branch), to a leaf
// of groups. Of those, the group whose template has most tokens equal to
// the line's, position by position, takes the line if that share is at
// least SimThreshold, and its template gets <_> where they differ; else
// the line starts a group of its own.
//
// Memory is bounded: at most MaxClusters groups are kept, the least
// recently matched being dropped first (with their counts), and a line
// counts for at most MaxTokens tokens.
package drain
