package main

// fetchAll reads a list the store pages by id (`after`, at most 1000 a
// page) until it ends or, when max > 0, until it holds max items.
func fetchAll[T any](max int, page func(after int64, n int) ([]T, error), id func(T) int64) ([]T, error) {
	var all []T
	var after int64
	for max == 0 || len(all) < max {
		n := 1000
		if max > 0 {
			n = min(n, max-len(all))
		}
		batch, err := page(after, n)
		if err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < n {
			break
		}
		after = id(batch[len(batch)-1])
	}
	return all, nil
}
