-- PostgreSQL equivalent of reference/schema.sql (the MariaDB schema of the
-- Postfix + Dovecot + MySQL reference set-up).
CREATE TABLE virtual_domains (
  id SERIAL PRIMARY KEY,
  name VARCHAR(50) NOT NULL
);

CREATE TABLE virtual_users (
  id SERIAL PRIMARY KEY,
  domain_id INT NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  password VARCHAR(106) NOT NULL,
  email VARCHAR(120) NOT NULL UNIQUE
);

CREATE TABLE virtual_aliases (
  id SERIAL PRIMARY KEY,
  domain_id INT NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  source VARCHAR(100) NOT NULL,
  destination VARCHAR(100) NOT NULL
);

INSERT INTO virtual_domains (id, name) VALUES (1, 'example.com'), (2, 'mail.example.com');
INSERT INTO virtual_users (id, domain_id, password, email) VALUES
  (1, 1, '$6$...', 'email1@example.com'),
  (2, 1, '$6$...', 'email2@example.com');
INSERT INTO virtual_aliases (id, domain_id, source, destination) VALUES
  (1, 1, 'alias@example.com', 'email1@example.com');
-- MySQL's AUTO_INCREMENT moves past explicit ids; PostgreSQL sequences do not.
SELECT setval('virtual_domains_id_seq', (SELECT max(id) FROM virtual_domains));
SELECT setval('virtual_users_id_seq', (SELECT max(id) FROM virtual_users));
SELECT setval('virtual_aliases_id_seq', (SELECT max(id) FROM virtual_aliases));
