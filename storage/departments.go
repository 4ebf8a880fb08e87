package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// CreateDepartment adds a department; its code and name must both be new.
func (s *Store) CreateDepartment(ctx context.Context, d hotlinebot.Department) (hotlinebot.Department, error) {
	d.Code = strings.TrimSpace(d.Code)
	d.Name = strings.TrimSpace(d.Name)
	if d.Code == "" {
		return d, hotlinebot.Errorf(hotlinebot.EINVALID, "缺少单位代码（code）")
	}
	if d.Name == "" {
		return d, hotlinebot.Errorf(hotlinebot.EINVALID, "缺少单位名称（name）")
	}
	err := s.db.GetContext(ctx, &d.ID,
		`INSERT INTO departments (code, name) VALUES ($1, $2) RETURNING id`, d.Code, d.Name)
	if err != nil {
		var pqe *pq.Error
		if errors.As(err, &pqe) && pqe.Code == "23505" {
			if strings.Contains(pqe.Constraint, "code") {
				return d, hotlinebot.Errorf(hotlinebot.ECONFLICT, "单位代码 %s 已存在", d.Code)
			}
			return d, hotlinebot.Errorf(hotlinebot.ECONFLICT, "单位名称 %s 已存在", d.Name)
		}
		return d, fmt.Errorf("storage: create department: %w", err)
	}
	return d, nil
}

// ListDepartments returns every department in the order they were added.
func (s *Store) ListDepartments(ctx context.Context) ([]hotlinebot.Department, error) {
	var ds []hotlinebot.Department
	if err := s.db.SelectContext(ctx, &ds, `SELECT id, code, name FROM departments ORDER BY id`); err != nil {
		return nil, fmt.Errorf("storage: list departments: %w", err)
	}
	return ds, nil
}

// Department finds a department by code or, failing that, by name.
func (s *Store) Department(ctx context.Context, codeOrName string) (hotlinebot.Department, error) {
	return department(ctx, s.db, codeOrName)
}

func department(ctx context.Context, q sqlx.QueryerContext, codeOrName string) (hotlinebot.Department, error) {
	var d hotlinebot.Department
	key := strings.TrimSpace(codeOrName)
	if key == "" {
		return d, hotlinebot.Errorf(hotlinebot.EINVALID, "缺少单位")
	}
	err := sqlx.GetContext(ctx, q, &d,
		`SELECT id, code, name FROM departments WHERE code = $1 OR name = $1
		 ORDER BY (code = $1) DESC LIMIT 1`, key)
	if notFound(err) {
		return d, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有单位 %s", key)
	}
	if err != nil {
		return d, fmt.Errorf("storage: department: %w", err)
	}
	return d, nil
}

// departmentCodes returns the set of known department codes (for rules).
func departmentCodes(ctx context.Context, q sqlx.QueryerContext) (map[string]bool, error) {
	var codes []string
	if err := sqlx.SelectContext(ctx, q, &codes, `SELECT code FROM departments`); err != nil {
		return nil, fmt.Errorf("storage: department codes: %w", err)
	}
	known := make(map[string]bool, len(codes))
	for _, c := range codes {
		known[c] = true
	}
	return known, nil
}

// departmentNames maps every department code to its name, for the messages
// of a transition.
func departmentNames(ctx context.Context, q sqlx.QueryerContext) (map[string]string, error) {
	var ds []hotlinebot.Department
	if err := sqlx.SelectContext(ctx, q, &ds, `SELECT id, code, name FROM departments`); err != nil {
		return nil, fmt.Errorf("storage: department names: %w", err)
	}
	names := make(map[string]string, len(ds))
	for _, d := range ds {
		names[d.Code] = d.Name
	}
	return names, nil
}
