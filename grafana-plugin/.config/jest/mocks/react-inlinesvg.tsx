// @grafana/ui's Icon fetches /public/img/icons/<name>.svg through
// react-inlinesvg; in Jest it renders an empty svg named after the icon.
import React from 'react';

const InlineSVG = ({ src }: { src: string }) => {
  const name = src.replace(/^.*\/(.+)\.svg$/, '$1');
  return <svg xmlns="http://www.w3.org/2000/svg" data-testid={name} viewBox="0 0 24 24" />;
};

export default InlineSVG;
